using System.Diagnostics;
using System.Globalization;

namespace Chat.Bench;

/// <summary>What the figures were measured on, and the process-level readings (RSS, CPU) the scenarios use.</summary>
public static class Machine
{
    public static Dictionary<string, object?> Describe()
    {
        return new Dictionary<string, object?>
        {
            ["nproc"] = Environment.ProcessorCount,
            ["cpu_model"] = CpuModel(),
            ["memory_mib"] = MemTotalKiB() / 1024,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["dotnet_sdk"] = DotnetVersion(),
            ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            ["load_average"] = LoadAverage(),
        };
    }

    public static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }

    public static long MemTotalKiB() => ReadKiB("/proc/meminfo", "MemTotal:");

    public static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    private static string? _dotnet;

    public static string DotnetVersion()
    {
        if (_dotnet is not null) return _dotnet;
        try
        {
            using var p = Process.Start(new ProcessStartInfo("dotnet", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
            var v = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return _dotnet = v;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return _dotnet = "unknown";
        }
    }

    /// <summary>VmRSS of a process in KiB (0 when it cannot be read).</summary>
    public static long RssKiB(int pid) => ReadKiB($"/proc/{pid}/status", "VmRSS:");

    /// <summary>User + system CPU time of a process, from /proc/PID/stat.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the ")" that ends the command name: state is field 3; utime 14, stime 15.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return TimeSpan.Zero;
        }
    }

    public static string OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return $"soft {parts[3]}, hard {parts[4]}";
                }
        }
        catch (IOException) { }
        return "unknown";
    }

    private static long ReadKiB(string path, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return 0;
    }
}
