package manta_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/autopilotpattern/redis-autopilot/backup/store"
	"github.com/autopilotpattern/redis-autopilot/backup/store/manta"
)

// Wiring a Manta store from the shell version's environment variables
// (config does this in the binary; the key stays in memory).
func Example() {
	key, err := manta.ParsePrivateKey([]byte(os.Getenv("MANTA_PRIVATE_KEY")))
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := manta.New(manta.Options{
		URL: os.Getenv("MANTA_URL"), User: os.Getenv("MANTA_USER"), Subuser: os.Getenv("MANTA_SUBUSER"),
		Role: os.Getenv("MANTA_ROLE"), KeyID: os.Getenv("MANTA_KEY_ID"), Signer: key,
		Bucket: os.Getenv("MANTA_BUCKET"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := s.Put(ctx, "dump-20261121193000.rdb", strings.NewReader("REDIS..."), store.Meta{SourceRole: "replica"}); err != nil {
		fmt.Println(err) // errors.Is(err, store.ErrAuth) for refused credentials
		return
	}
	info, err := s.Stat(ctx, "dump-20261121193000.rdb")
	fmt.Println(info.Good(), err)
}
