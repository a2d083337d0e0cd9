#!/bin/sh
# Backup benchmark: ./bench/run.sh [MB]  (default 100; 1000 for the 1 GB run)
set -e
cd "$(dirname "$0")/.."
exec go test -run '^$' -bench BenchmarkBackup -benchtime 1x -timeout 90m ./bench -dataset-mb "${1:-100}"
