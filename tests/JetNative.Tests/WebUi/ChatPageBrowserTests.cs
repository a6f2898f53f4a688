using System.Text.Json.Nodes;
using JetNative.Tests.Support;
using JetNative.WebUi;
using Microsoft.AspNetCore.Builder;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit;

namespace JetNative.Tests.WebUi;

/// <summary>
/// The chat page in a real headless browser (Debian's chromium + chromium-driver, driven by
/// Selenium) against the fake OpenAI-style server: a prompt streams its answer (the first chunk is
/// on the page while the server still holds the rest), tok/s and TTFT show, the conversation is
/// kept, the API key goes out as a Bearer header, Stop aborts. Skipped when chromium or
/// chromedriver is not installed (.ci/install-deps.sh installs both). One browser serves the class.
/// </summary>
public sealed class ChatPageBrowserTests(ChromiumBrowser browser) : IClassFixture<ChromiumBrowser>, IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await FakeOpenAiServer.StartAsync("w", app => app.MapJetChatPage());
        _server.ChatWords = ["Hello", " from", " the", " fake", " server."];
        _server.ChunkDelay = TimeSpan.FromMilliseconds(10);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    /// <summary>The shared browser on a fresh copy of the page (a new server each test, so a new origin and empty storage).</summary>
    private ChromeDriver OpenPage()
    {
        ChromeDriver driver = browser.Driver;
        driver.Navigate().GoToUrl(_server.Address);
        return driver;
    }

    private static WebDriverWait Wait(IWebDriver driver, double seconds = 20) => new(driver, TimeSpan.FromSeconds(seconds))
    {
        PollingInterval = TimeSpan.FromMilliseconds(50),
    };

    private static IReadOnlyList<IWebElement> Answers(IWebDriver driver) => driver.FindElements(By.CssSelector(".msg.assistant .content"));

    [Fact]
    public void A_prompt_streams_its_answer_with_tok_s_and_the_conversation_is_kept()
    {
        ChromeDriver driver = OpenPage();
        Assert.Equal("JetNative chat", driver.Title);
        Wait(driver).Until(d => d.FindElement(By.Id("model")).GetAttribute("value") == FakeOpenAiServer.ModelId);

        IWebElement maxTokens = driver.FindElement(By.Id("max-tokens"));
        maxTokens.Clear();
        maxTokens.SendKeys("5");
        IWebElement key = driver.FindElement(By.Id("api-key"));
        key.SendKeys("sesame");
        driver.FindElement(By.Id("prompt")).Click(); // blur: the key is stored

        _server.Gate = new TaskCompletionSource();
        driver.FindElement(By.Id("prompt")).SendKeys("Say hello");
        driver.FindElement(By.Id("send")).Click();

        // The server sent "Hello" and holds the rest: the page shows it already, and Stop is live.
        Wait(driver).Until(d => Answers(d).Count == 1 && Answers(d)[0].Text == "Hello");
        Assert.True(driver.FindElement(By.Id("stop")).Enabled);
        Assert.False(driver.FindElement(By.Id("send")).Enabled);
        _server.Gate.TrySetResult();

        Wait(driver).Until(d => d.FindElement(By.Id("stats")).Text.Contains("tok/s", StringComparison.Ordinal));
        Assert.Equal("Hello from the fake server.", Answers(driver)[0].Text);
        string stats = driver.FindElement(By.Id("stats")).Text;
        Assert.Matches(@"TTFT \d+ ms · \d+\.\d tok/s · 5 tokens", stats); // 5: the usage figure of max_tokens 5
        Assert.Equal("Say hello", driver.FindElement(By.CssSelector(".msg.user")).Text);

        JsonObject first = _server.Bodies.Single();
        Assert.Equal(FakeOpenAiServer.ModelId, first["model"]!.GetValue<string>());
        Assert.Equal(5, first["max_tokens"]!.GetValue<int>());
        Assert.True(first["stream"]!.GetValue<bool>());
        Assert.True(first["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.Single(first["messages"]!.AsArray());
        Assert.Equal("Bearer sesame", _server.Authorizations.Single());
        Assert.Equal("sesame", driver.ExecuteScript("return localStorage.getItem('jetnative.apiKey')"));

        // A second turn sends the whole conversation.
        _server.Gate = null;
        driver.FindElement(By.Id("prompt")).SendKeys("Again" + Keys.Enter);
        Wait(driver).Until(d => Answers(d).Count == 2 && d.FindElement(By.Id("send")).Enabled);
        JsonArray messages = _server.Bodies.Last()["messages"]!.AsArray();
        Assert.Equal(["user", "assistant", "user"], messages.Select(m => m!["role"]!.GetValue<string>()));
        Assert.Equal("Hello from the fake server.", messages[1]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task Stop_aborts_the_stream()
    {
        ChromeDriver driver = OpenPage();
        _server.Gate = new TaskCompletionSource();
        driver.FindElement(By.Id("prompt")).SendKeys("Talk forever");
        driver.FindElement(By.Id("send")).Click();
        Wait(driver).Until(d => Answers(d).Count == 1 && Answers(d)[0].Text == "Hello");

        driver.FindElement(By.Id("stop")).Click();
        Wait(driver).Until(d => d.FindElement(By.Id("send")).Enabled);
        Assert.Contains("stopped", driver.FindElement(By.Id("stats")).Text, StringComparison.Ordinal);
        Assert.Equal("Hello", Answers(driver)[0].Text);
        await Poll.UntilAsync(() => Volatile.Read(ref _server.Disconnects) == 1, "the server sees the client go away");
    }

    [Fact]
    public void A_server_error_is_shown()
    {
        ChromeDriver driver = OpenPage();
        ((IJavaScriptExecutor)driver).ExecuteScript("document.getElementById('max-tokens').value = '100000'");
        driver.FindElement(By.Id("prompt")).SendKeys("Too long");
        driver.FindElement(By.Id("send")).Click();
        IWebElement error = Wait(driver).Until(d => d.FindElements(By.CssSelector(".msg.error")).FirstOrDefault());
        Assert.Contains("max_tokens must be in 1..4096 (HTTP 400)", error.Text, StringComparison.Ordinal);
    }
}
