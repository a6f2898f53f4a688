using OpenQA.Selenium.Chrome;
using Xunit;

namespace JetNative.Tests.WebUi;

/// <summary>
/// One headless Chromium for the chat-page tests of a class (starting one takes seconds): Debian's
/// <c>/usr/bin/chromium</c> driven through <c>/usr/bin/chromedriver</c> (or the paths in
/// <c>JET_CHROMIUM</c> / <c>JET_CHROMEDRIVER</c>), with a fresh profile.
/// The driver's path is given, so Selenium Manager never runs (no download, no network).
/// <see cref="Driver"/> skips the calling test when either binary is missing.
/// </summary>
public sealed class ChromiumBrowser : IDisposable
{
    private static readonly string Chromium = Environment.GetEnvironmentVariable("JET_CHROMIUM") ?? "/usr/bin/chromium";
    private static readonly string ChromeDriverPath = Environment.GetEnvironmentVariable("JET_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
    private ChromeDriver? _driver;
    private string? _profile;

    public ChromeDriver Driver
    {
        get
        {
            if (!File.Exists(Chromium) || !File.Exists(ChromeDriverPath))
                Assert.Skip($"needs {Chromium} and {ChromeDriverPath} (Debian packages chromium and chromium-driver; .ci/install-deps.sh installs them)");
            return _driver ??= Start();
        }
    }

    private ChromeDriver Start()
    {
        _profile = Directory.CreateTempSubdirectory("jet-chromium-").FullName;
        ChromeDriverService service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriverPath)!, Path.GetFileName(ChromeDriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--window-size=1200,900", $"--user-data-dir={_profile}");
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        return driver;
    }

    public void Dispose()
    {
        _driver?.Quit();
        _driver?.Dispose();
        if (_profile is not null)
        {
            try { Directory.Delete(_profile, recursive: true); }
            catch (IOException) { } // chromium may still be writing its profile as it exits
        }
    }
}
