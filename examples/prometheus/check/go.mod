// Module check parses the example Prometheus files. It is a module of its
// own so that its YAML library stays out of redis-autopilot's go.mod.
// Run: cd examples/prometheus/check && go test ./...
module github.com/autopilotpattern/redis-autopilot/examples/prometheus/check

go 1.26.8

require go.yaml.in/yaml/v2 v2.4.4
