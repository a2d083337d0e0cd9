#!/bin/sh
# Backup benchmark: ./bench/run.sh [MB]  (default 100; 1000 for the 1 GB run)
# Point-in-time recovery: ./bench/run.sh pitr [MB of AOF]  (default 100; 1024 for 1 GiB)
# Peak RSS of `backup now`, plain and encrypted: ./bench/run.sh rss [MB,MB...]  (default 100,1000)
# Encrypted against plain backups, paired rounds: ./bench/run.sh enc [MB] [STORES] [ROUNDS]  (default 100 dir,manta,s3 9)
set -e
cd "$(dirname "$0")/.."
if [ "$1" = pitr ]; then
	exec go test -run '^$' -bench BenchmarkPITR -benchtime 1x -timeout 90m ./bench -pitr-aof-mb "${2:-100}"
fi
if [ "$1" = enc ]; then
	exec go test -run '^$' -bench 'BenchmarkEncrypted$' -benchtime 1x -timeout 90m ./bench \
		-dataset-mb "${2:-100}" -enc-stores "${3:-dir,manta,s3}" -enc-rounds "${4:-9}"
fi
rss() {
	go test -run '^$' -bench 'BenchmarkRSS$' -benchtime 1x -timeout 60m ./bench -rss-mb "$1"
}
if [ "$1" = rss ]; then
	rss "${2:-100,1000}"
	exit
fi
# Both zstd writers side by side (ours and klauspost's concurrent-blocks
# stream: throughput, ratio, peak heap), then the pipelines and RSS, then
# the RSS of `backup now` at 100 MB and 1 GB in the same run.
go test -run '^$' -bench BenchmarkZstdWriters -benchtime 1x -timeout 10m ./backup
go test -run '^$' -bench 'BenchmarkBackup$' -benchtime 1x -timeout 90m ./bench -dataset-mb "${1:-100}"
rss 100,1000
