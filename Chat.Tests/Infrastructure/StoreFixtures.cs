using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;
using NUnit.Framework.Internal.Builders;

namespace Chat.Tests.Infrastructure;

/// <summary>The store a test's server runs on (contract section 1, <c>Chat:Database:Provider</c>).</summary>
public enum Store
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Runs a fixture once per store: <c>Name(Sqlite)</c> and <c>Name(Postgres)</c>, the same tests, not copies. Every
/// <see cref="ChatApp"/> a test starts runs on its fixture's store (<see cref="Current"/>). Where PostgreSQL cannot run,
/// the PostgreSQL fixture is skipped with a one-line reason (<see cref="PostgresServer.UnavailableReason"/>); a test
/// run meant to cover both stores (<c>.ci/run</c>) fails on any skip. Inherited: put it on a base class and every
/// fixture deriving from it runs on both.
/// </summary>
/// <param name="arguments">The fixture's constructor arguments, as <c>[TestFixture(args)]</c> takes them; one attribute per set.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = true, AllowMultiple = true)]
public sealed class BothStoresAttribute(params object[] arguments) : NUnitAttribute, IFixtureBuilder2
{
    private const string StoreProperty = "Store";

    public IEnumerable<TestSuite> BuildFrom(ITypeInfo typeInfo) => BuildFrom(typeInfo, new Everything());

    public IEnumerable<TestSuite> BuildFrom(ITypeInfo typeInfo, IPreFilter filter)
    {
        var builder = new NUnitTestFixtureBuilder();
        foreach (var store in Enum.GetValues<Store>())
        {
            var name = arguments.Length == 0 ? $"{typeInfo.Name}({store})" : $"{typeInfo.Name}({string.Join(",", arguments)},{store})";
            var parameters = new TestFixtureParameters(arguments) { TestName = name };
            parameters.Properties.Set(StoreProperty, store.ToString());
            if (store == Store.Postgres && PostgresServer.UnavailableReason is { } reason)
            {
                parameters.RunState = RunState.Ignored;
                parameters.Properties.Set(PropertyNames.SkipReason, reason);
            }
            yield return builder.BuildFrom(typeInfo, filter, parameters);
        }
    }

    private sealed class Everything : IPreFilter
    {
        public bool IsMatch(Type type) => true;
        public bool IsMatch(Type type, System.Reflection.MethodInfo method) => true;
    }

    /// <summary>The store of the fixture running now; <see cref="Store.Sqlite"/> outside a both-stores fixture.</summary>
    public static Store Current
    {
        get
        {
            for (ITest? test = TestExecutionContext.CurrentContext.CurrentTest; test is not null; test = test.Parent)
                if (test.Properties.ContainsKey(StoreProperty))
                    return Enum.Parse<Store>((string)test.Properties.Get(StoreProperty)!);
            return Store.Sqlite;
        }
    }
}
