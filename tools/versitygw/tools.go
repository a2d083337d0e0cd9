//go:build tools

// Package tools pins the versitygw S3 gateway that the test harness runs as
// the real S3 server of the S3 store's tests. It lives in its own module so
// that the gateway's dependency graph (it embeds the AWS SDK too) never
// pins versions of the main module.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
