//go:build tools

// Package tools pins the Consul agent that the test harness and the local
// dev cluster run. It lives in its own module so that the agent's large
// dependency graph never pins the consul/api version of the main module.
package tools

import _ "github.com/hashicorp/consul"
