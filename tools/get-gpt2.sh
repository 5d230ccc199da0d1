#!/usr/bin/env bash
# Downloads GPT-2 from the Hugging Face hub and converts it for tinyllm; see tools/README.md.
# Usage: tools/get-gpt2.sh [gpt2|gpt2-medium|gpt2-large|gpt2-xl] [--dtype bf16] [--dir weights]
# With no model named it fetches gpt2 (124M). Paths are relative to the directory it is run from.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -eq 0 ] || [[ "$1" == -* ]]; then
  set -- gpt2 "$@"
fi
exec "$here/tinyllm" download "$@"
