#!/usr/bin/env bash
# serve_pack.sh - here (no GPU): packs what serve_run.sh needs on the GPU machine, which has no
# .NET: a self-contained, trimmed publish of the `jetnative` CLI (server and `bench serve`
# included; ~13 MB as .tar.xz) and the Qwen tokenizer of ../shared (the 2B's vocabulary), into
# .serve/ (git-ignored; name it in the device run's `carry`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=.serve
rm -rf "$OUT" /tmp/jet-serve-pub && mkdir -p "$OUT/tokenizer"
dotnet publish src/JetNative.Cli/JetNative.Cli.csproj -c Release -r linux-x64 --self-contained true \
  -p:PublishTrimmed=true -p:TrimMode=partial -p:InvariantGlobalization=true \
  -p:TreatWarningsAsErrors=false -p:SuppressTrimAnalysisWarnings=true \
  -p:JetBuildNative=false -p:JetNativeDir="$PWD/build/native" -o /tmp/jet-serve-pub/cli -nologo -v:q
# The GPU machine builds its own libjet.so (CUDA); the demo model and the chart natives stay here.
(cd /tmp/jet-serve-pub/cli && rm -rf models libjet.so ./*.pdb ./*.xml libSkiaSharp.so libHarfBuzzSharp.so)
tar -C /tmp/jet-serve-pub -cf - cli | xz -T2 -6 > "$OUT/cli.tar.xz"
cp ../shared/fixtures/tokenizer/{tokenizer.json,tokenizer_config.json} "$OUT/tokenizer/"
xz -T2 -6 "$OUT/tokenizer/tokenizer.json"
ls -la "$OUT" "$OUT/tokenizer"
