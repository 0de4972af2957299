using Chat.Server;

namespace Chat.Tests.Storage;

/// <summary><c>Chat:Synchronous</c> is checked by its pattern at start-up, which matches the whole value (as every pattern does).</summary>
public sealed class SynchronousSettingTests
{
    [TestCase("FULL")]
    [TestCase("normal")]
    [TestCase("Extra")]
    public void AcceptedValuesPassValidation(string value) =>
        Assert.That(new ChatOptionsValidator().Validate(null, new ChatOptions { Synchronous = value }).Succeeded, Is.True);

    [TestCase("FULL\n", TestName = "SynchronousEndingInNewlineFailsValidation")]
    [TestCase("FULL\r\n", TestName = "SynchronousEndingInCrLfFailsValidation")]
    [TestCase("FULL;", TestName = "SynchronousWithATrailingSemicolonFailsValidation")]
    [TestCase("OFF", TestName = "SynchronousOffFailsValidation")]
    public void OtherValuesFailValidation(string value) =>
        Assert.That(new ChatOptionsValidator().Validate(null, new ChatOptions { Synchronous = value }).Failed, Is.True);
}
