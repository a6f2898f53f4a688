#!/usr/bin/env bash
# package-test.sh - tests the packed NuGet packages as a user gets them: a fresh console app
# restores JetNative + JetNative.Runtime.Cpu from a local folder feed (nothing from this checkout
# but the packages and the demo model), generates text greedily and must print what the CLI built
# from source prints for the same prompt; then the CLI tool package is installed and run. The
# runtime package must hold libjet.so (linux-x64), and jet.dll (win-x64) in CI or when built.
#   .ci/package-test.sh [FEED]     FEED: the folder `./build.sh pack` wrote (artifacts/packages)
# Prints one line `N passed, N failed` (one per check); exits non-zero when any check fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
FEED=$(realpath "${1:-artifacts/packages}")
VERSION=$(tr -d '[:space:]' < VERSION)
MODEL=$ROOT/models/jetnative-demo
CLI=$ROOT/src/JetNative.Cli/bin/Release/net10.0/jetnative
PROMPT="ROMEO:"
NTOK=24
work=$(mktemp -d /tmp/jetnative-package-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
unset JETNATIVE_LIBRARY_PATH  # the app must find libjet.so through the runtime package alone

passed=0; failed=0
check() {  # check NAME COMMAND...: runs one check, counts it
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name" >&2; failed=$((failed + 1)); fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

# zip_has PACKAGE ENTRY / zip_lacks PACKAGE PREFIX
zip_list() { python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"; }
# (The listing is read whole first: `grep -q` closing the pipe early would fail it under pipefail.)
zip_has() { local l; l=$(zip_list "$1") && grep -qxF "$2" <<<"$l" || { echo "  $1 lacks $2" >&2; return 1; }; }
zip_lacks() { local l; l=$(zip_list "$1") && ! grep -q "^$2" <<<"$l" || { echo "  $1 has $2*" >&2; return 1; }; }
nuspec_has() { zip_list "$1" >/dev/null && python3 - "$1" "$2" <<'PY' || { echo "  $1's nuspec lacks <$2>" >&2; return 1; }
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
spec = z.read(next(n for n in z.namelist() if n.endswith('.nuspec'))).decode()
sys.exit(0 if re.search(r'<%s[ >]' % sys.argv[2], spec) else 1)
PY
}

lib=$FEED/JetNative.$VERSION.nupkg
cpu=$FEED/JetNative.Runtime.Cpu.$VERSION.nupkg
tool=$FEED/JetNative.Cli.$VERSION.nupkg
for p in "$lib" "$cpu" "$tool"; do
  [ -f "$p" ] || { echo "error: $p is missing (run ./build.sh pack first)" >&2; failed=$((failed + 1)); finish; }
done

check "JetNative is managed only" zip_lacks "$lib" "runtimes/"
check "JetNative.Runtime.Cpu carries libjet.so" zip_has "$cpu" "runtimes/linux-x64/native/libjet.so"
# jet.dll (win-x64, the mingw-w64 cross-build): CI builds it before packing, so there it must be
# in the package; elsewhere it is checked when it was built.
if [ "${CI:-}" = true ] || [ -f "$ROOT/build-win-x64/native/jet.dll" ]; then
  check "JetNative.Runtime.Cpu carries jet.dll (win-x64)" zip_has "$cpu" "runtimes/win-x64/native/jet.dll"
fi
for p in "$lib" "$cpu" "$tool"; do
  for field in description license projectUrl readme; do
    check "$(basename "$p") has <$field>" nuspec_has "$p" "$field"
  done
done
check "the tool has no SkiaSharp natives but linux-x64's" \
  bash -c "! python3 -c 'import sys, zipfile; print(\"\\n\".join(zipfile.ZipFile(sys.argv[1]).namelist()))' '$tool' | grep '/runtimes/' | grep -v '/runtimes/linux-x64/'"
if [ -f "$FEED/JetNative.Runtime.Cuda.$VERSION.nupkg" ]; then
  check "JetNative.Runtime.Cuda carries libjet.so" zip_has "$FEED/JetNative.Runtime.Cuda.$VERSION.nupkg" "runtimes/linux-x64/native/libjet.so"
fi

# The expected text: the CLI built from source, greedy.
[ -x "$CLI" ] || { echo "error: $CLI is missing (./build.sh managed)" >&2; failed=$((failed + 1)); finish; }
expected=$("$CLI" generate "$PROMPT" -m "$MODEL" -n "$NTOK" --temp 0 2>/dev/null)
check "the CLI from source generates text" test -n "$expected"

# A fresh console app, restoring from the feed into its own package folder (never a cached copy
# of an older package with the same version). Dependencies come from the machine's package cache
# when there, else from the user's NuGet sources (this nuget.config adds to them).
machine_cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
export NUGET_PACKAGES=$work/packages
app=$work/app
mkdir -p "$app"
cat > "$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="jetnative-local" value="$FEED" />
$( [ -d "$machine_cache" ] && echo "    <add key=\"machine-cache\" value=\"$machine_cache\" />" )
  </packageSources>
</configuration>
XML
cat > "$app/app.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="JetNative" Version="$VERSION" />
    <PackageReference Include="JetNative.Runtime.Cpu" Version="$VERSION" />
  </ItemGroup>
</Project>
XML
cat > "$app/Program.cs" <<'CS'
using JetNative;

using var model = JetModel.Load(args[0]);
using var session = model.CreateSession();
var options = new JetGenerationOptions { MaxTokens = int.Parse(args[2]), Sampling = JetSamplingOptions.Greedy };
await foreach (string piece in session.GenerateAsync(args[1], options))
    Console.Write(piece);
Console.WriteLine();
CS
# Outside the repository: no Directory.Build.props/Directory.Packages.props of this checkout apply.
check "the app restores the packages from the feed" \
  dotnet restore "$app/app.csproj" -nologo -v:q
check "the app builds" dotnet build "$app/app.csproj" -c Release --no-restore -nologo -v:q -clp:ErrorsOnly
check "libjet.so came from the runtime package" test -f "$app/bin/Release/net10.0/runtimes/linux-x64/native/libjet.so"
actual=$(cd "$work" && dotnet "$app/bin/Release/net10.0/app.dll" "$MODEL" "$PROMPT" "$NTOK" 2>"$work/app.err")
rc=$?
[ $rc -eq 0 ] || { echo "  app exit code $rc:" >&2; tail -n 20 "$work/app.err" >&2; }
check "the app generates text" test -n "$actual"
same_text() { [[ "$expected" == *"$actual"* ]] || { printf '  app: %q\n  cli: %q\n' "$actual" "$expected" >&2; return 1; }; }
check "the app's greedy text is the CLI's" same_text

# The tool package: installs and runs.
check "the tool installs from the feed" bash -c "cd '$work' && dotnet tool install JetNative.Cli --version '$VERSION' --tool-path '$work/tool' --add-source '$FEED'"
tool_text=$("$work/tool/jetnative" generate "$PROMPT" -m "$MODEL" -n "$NTOK" --temp 0 2>"$work/tool.err")
[ -n "$tool_text" ] || tail -n 20 "$work/tool.err" >&2
same_tool() { [[ "$tool_text" == "$expected" ]] || { printf '  tool: %q\n  cli:  %q\n' "$tool_text" "$expected" >&2; return 1; }; }
check "the installed tool generates the CLI's text" same_tool
finish
