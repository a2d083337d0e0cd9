package main

// The project's chosen dependencies, pinned in go.mod before every package
// uses them. Remove a line here once a package imports it for real.
import (
	_ "github.com/joyent/triton-go/storage"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/klauspost/pgzip"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
)
