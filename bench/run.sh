#!/bin/sh
# Backup benchmark: ./bench/run.sh [MB]  (default 100; 1000 for the 1 GB run)
# Point-in-time recovery: ./bench/run.sh pitr [MB of AOF]  (default 100; 1024 for 1 GiB)
set -e
cd "$(dirname "$0")/.."
if [ "$1" = pitr ]; then
	exec go test -run '^$' -bench BenchmarkPITR -benchtime 1x -timeout 90m ./bench -pitr-aof-mb "${2:-100}"
fi
# Both zstd writers side by side (ours and klauspost's concurrent-blocks
# stream: throughput, ratio, peak heap), then the pipelines and RSS.
go test -run '^$' -bench BenchmarkZstdWriters -benchtime 1x -timeout 10m ./backup
exec go test -run '^$' -bench BenchmarkBackup -benchtime 1x -timeout 90m ./bench -dataset-mb "${1:-100}"
