package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-cleanhttp"
)

func setConsulSSL(c *Config, v string) error {
	ssl, err := parseBool(v)
	c.Consul.Scheme = "http"
	if ssl {
		c.Consul.Scheme = "https"
	}
	return err
}

func setConsulSSLVerify(c *Config, v string) error {
	verify, err := parseBool(v)
	c.Consul.TLSConfig.InsecureSkipVerify = !verify
	return err
}

// readableFile checks that v is an absolute path to a file this process
// can open. It never reads the content, which may be a secret.
func readableFile(v string) (string, error) {
	p, err := parseAbsPath(v)
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot be opened: %w", err)
	}
	return p, f.Close()
}

// validateConsulTLS checks relations between the Consul TLS settings.
func validateConsulTLS(t *api.TLSConfig) error {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return &Error{Var: "CONSUL_CLIENT_KEY", Reason: "must be set when CONSUL_CLIENT_CERT is set"}
	case t.CertFile == "" && t.KeyFile != "":
		return &Error{Var: "CONSUL_CLIENT_CERT", Reason: "must be set when CONSUL_CLIENT_KEY is set"}
	case t.CertFile != "":
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			return &Error{Var: "CONSUL_CLIENT_CERT", Value: t.CertFile,
				Reason: "does not load with CONSUL_CLIENT_KEY: " + err.Error(), Err: err}
		}
	}
	return nil
}

// buildConsulClient gives cfg its own transport and HTTP client, so that
// api.NewClient does not build them from the process environment, and
// so that a bad CA file is a configuration error now, not later.
func buildConsulClient(cfg *api.Config) error {
	cfg.Transport = cleanhttp.DefaultPooledTransport()
	hc, err := api.NewHttpClient(cfg.Transport, cfg.TLSConfig)
	if err != nil {
		e := &Error{Var: "CONSUL_CACERT", Value: cfg.TLSConfig.CAFile, Reason: err.Error(), Err: err}
		if cfg.TLSConfig.CAFile == "" {
			e.Var, e.Value = "CONSUL_TLS_SERVER_NAME", cfg.TLSConfig.Address
		}
		return e
	}
	cfg.HttpClient = hc
	return nil
}
