package config

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeDocumentsEveryVariable: every variable Load reads has a row in
// README's configuration table.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range Vars() {
		if !strings.Contains(readme, "| `"+v+"` |") {
			t.Errorf("README's configuration table has no row for %s", v)
		}
	}
}
