using System.Text.RegularExpressions;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>PUT/DELETE /api/users/me/avatar and GET /api/users/{username}/avatar.</summary>
public sealed class AvatarTests : ApiTestBase
{
    private static byte[] Image(string type) => type switch
    {
        "image/png" => HttpApi.Images.Png(),
        "image/jpeg" => HttpApi.Images.Jpeg(),
        "image/gif" => HttpApi.Images.Gif(),
        "image/webp" => HttpApi.Images.Webp(),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static async Task<System.Text.Json.Nodes.JsonObject> UploadAsync(TestUser user, byte[] data, string contentType)
    {
        using var client = user.Client();
        return await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(data, contentType))).JsonAsync(200);
    }

    private static long Version(string profilePicture) =>
        long.Parse(Regex.Match(profilePicture, @"[?&]v=(-?\d+)$").Groups[1].Value);

    [TestCase("image/png")]
    [TestCase("image/jpeg")]
    [TestCase("image/gif")]
    [TestCase("image/webp")]
    public async Task UploadingSupportedImageSetsProfilePicture(string contentType)
    {
        var alice = await App.RegisterAsync("alice", "Alice Liddell", "alice@example.com");

        var user = await UploadAsync(alice, Image(contentType), contentType);

        FrameAssert.HasExactKeys(user, FrameAssert.UserKeys);
        Assert.That(user.Str("username"), Is.EqualTo("alice"));
        Assert.That(user.Str("full_name"), Is.EqualTo("Alice Liddell"));
        Assert.That(user.Str("profile_picture"), Does.Match(@"^/api/users/alice/avatar\?v=\d+$"));
        Assert.That((await alice.GetAsync("/api/users/me")).Str("profile_picture"), Is.EqualTo(user.Str("profile_picture")));
    }

    [TestCase("image/png")]
    [TestCase("image/jpeg")]
    [TestCase("image/gif")]
    [TestCase("image/webp")]
    public async Task AvatarDownloadWithoutAuthReturnsTheSameBytesAndContentType(string contentType)
    {
        var alice = await App.RegisterAsync("alice");
        var data = Image(contentType);
        var user = await UploadAsync(alice, data, contentType);

        using var anonymous = App.CreateClient();
        var response = await anonymous.GetAsync(user.Str("profile_picture"));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo(contentType));
        Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.EqualTo(data));
    }

    [Test]
    public async Task AvatarDownloadIgnoresUsernameCase()
    {
        var alice = await App.RegisterAsync("Alice");
        var data = HttpApi.Images.Png();
        await UploadAsync(alice, data, "image/png");

        using var anonymous = App.CreateClient();
        var response = await anonymous.GetAsync("/api/users/aLICE/avatar");

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.EqualTo(data));
    }

    [Test]
    public async Task SecondUploadChangesVersionAndServesTheNewImage()
    {
        var alice = await App.RegisterAsync("alice");
        var first = (await UploadAsync(alice, HttpApi.Images.Png(), "image/png")).Str("profile_picture");
        var gif = HttpApi.Images.Gif(20);
        var second = (await UploadAsync(alice, gif, "image/gif")).Str("profile_picture");

        Assert.That(second, Is.Not.EqualTo(first));
        Assert.That(Version(second), Is.Not.EqualTo(Version(first)));
        using var anonymous = App.CreateClient();
        var response = await anonymous.GetAsync(second);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("image/gif"));
        Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.EqualTo(gif));
    }

    [Test]
    public async Task UploadAfterDeleteGetsAVersionNotUsedBefore()
    {
        var alice = await App.RegisterAsync("alice");
        var first = Version((await UploadAsync(alice, HttpApi.Images.Png(), "image/png")).Str("profile_picture"));
        using (var client = alice.Client())
            await (await client.DeleteAsync("/api/users/me/avatar")).JsonAsync(200);

        var again = Version((await UploadAsync(alice, HttpApi.Images.Jpeg(), "image/jpeg")).Str("profile_picture"));

        Assert.That(again, Is.Not.EqualTo(first), "a cached picture of the old version must not be reused");
    }

    [Test]
    public async Task PngBytesDeclaredAsJpegAre415UnsupportedMediaType()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(HttpApi.Images.Png(), "image/jpeg")))
            .AssertProblemAsync(415, "unsupported_media_type");

        Assert.That((await alice.GetAsync("/api/users/me"))["profile_picture"], Is.Null);
    }

    [TestCase("image/png", TestName = "TextBytesDeclaredAsPngAre415UnsupportedMediaType")]
    [TestCase("image/gif", TestName = "TextBytesDeclaredAsGifAre415UnsupportedMediaType")]
    [TestCase("image/webp", TestName = "TextBytesDeclaredAsWebpAre415UnsupportedMediaType")]
    public async Task BytesWithoutTheDeclaredSignatureAre415(string contentType)
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes("hello, I am not an image"u8.ToArray(), contentType)))
            .AssertProblemAsync(415, "unsupported_media_type");
    }

    [TestCase("text/plain")]
    [TestCase("image/svg+xml")]
    [TestCase("application/octet-stream")]
    public async Task UnsupportedContentTypeIs415UnsupportedMediaType(string contentType)
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(HttpApi.Images.Png(), contentType)))
            .AssertProblemAsync(415, "unsupported_media_type");

        Assert.That((await alice.GetAsync("/api/users/me"))["profile_picture"], Is.Null);
    }

    [Test]
    public async Task AvatarOverMaxAvatarBytesIs413TooLarge()
    {
        await RestartWithAsync(new Dictionary<string, string?> { ["Chat:MaxAvatarBytes"] = "2048" });
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        var tooBig = HttpApi.Images.Png(2049 - 8);
        Assert.That(tooBig, Has.Length.EqualTo(2049));
        await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(tooBig, "image/png"))).AssertProblemAsync(413, "too_large");
        Assert.That((await alice.GetAsync("/api/users/me"))["profile_picture"], Is.Null);

        var justFits = HttpApi.Images.Png(2048 - 8);
        await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(justFits, "image/png"))).JsonAsync(200);
    }

    [Test]
    public async Task AvatarOverMaxAvatarBytesWithoutContentLengthIs413TooLarge()
    {
        await RestartWithAsync(new Dictionary<string, string?> { ["Chat:MaxAvatarBytes"] = "2048" });
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        // A stream of unknown length is sent chunked, so the server cannot rely on Content-Length.
        var content = new StreamContent(new UnseekableStream(HttpApi.Images.Png(4096)));
        content.Headers.ContentType = new("image/png");
        var request = new HttpRequestMessage(HttpMethod.Put, "/api/users/me/avatar") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        await (await client.SendAsync(request)).AssertProblemAsync(413, "too_large");
        Assert.That((await alice.GetAsync("/api/users/me"))["profile_picture"], Is.Null);
    }

    [Test]
    public async Task DeleteAvatarClearsProfilePictureAndDownloadIs404NotFound()
    {
        var alice = await App.RegisterAsync("alice");
        await UploadAsync(alice, HttpApi.Images.Png(), "image/png");
        using var client = alice.Client();

        var user = await (await client.DeleteAsync("/api/users/me/avatar")).JsonAsync(200);

        FrameAssert.HasExactKeys(user, FrameAssert.UserKeys);
        Assert.That(user["profile_picture"], Is.Null);
        Assert.That((await alice.GetAsync("/api/users/me"))["profile_picture"], Is.Null);
        using var anonymous = App.CreateClient();
        await (await anonymous.GetAsync("/api/users/alice/avatar")).AssertProblemAsync(404, "not_found");
    }

    [Test]
    public async Task AvatarOfUserWithoutOneIs404NotFound()
    {
        await App.RegisterAsync("alice");
        using var anonymous = App.CreateClient();

        await (await anonymous.GetAsync("/api/users/alice/avatar")).AssertProblemAsync(404, "not_found");
    }

    [Test]
    public async Task AvatarOfUnknownUserIs404NotFound()
    {
        using var anonymous = App.CreateClient();

        await (await anonymous.GetAsync("/api/users/nobody/avatar")).AssertProblemAsync(404, "not_found");
    }

    /// <summary>A read-only stream that hides its length, forcing a chunked upload.</summary>
    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => base.Position; set => throw new NotSupportedException(); }
    }
}
