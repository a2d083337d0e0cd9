module github.com/autopilotpattern/redis-autopilot/tools/consul

go 1.26
