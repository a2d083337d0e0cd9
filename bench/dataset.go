// Package bench holds the backup benchmark (see README.md) and the
// dataset generator it loads through `redis-cli --pipe`.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// KeysPerMB is how many generated keys make about one MB of RDB
// with Redis 7.0.
const KeysPerMB = 3780 // measured: 378k keys of this mix make a 100 MB RDB

var words = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima
mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu order
customer product invoice shipped pending active session token region zone cluster replica master
backup restore latency request response error warning info debug value count total price amount
user account email address street city country postal phone mobile created updated deleted`)

// WriteDataset writes keys Redis commands in the protocol `redis-cli
// --pipe` reads: 55 % JSON strings of 100-600 bytes, 15 % random binary
// 32-256 bytes, 10 % counters, 10 % hashes of 3-20 fields, 5 % lists,
// 5 % sorted sets (performance.md's mix). The same seed gives the same
// data.
func WriteDataset(w io.Writer, keys int, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range keys {
		p := r.IntN(100)
		key := fmt.Sprintf("k:%08d", i)
		switch {
		case p < 55:
			resp(bw, "SET", "json:"+key, jsonValue(r, 100+r.IntN(501)))
		case p < 70:
			b := make([]byte, 32+r.IntN(225))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			resp(bw, "SET", "bin:"+key, string(b))
		case p < 80:
			resp(bw, "SET", "ctr:"+key, strconv.Itoa(r.IntN(1_000_000)))
		case p < 90:
			args := []string{"HSET", "hash:" + key}
			for f := range 3 + r.IntN(18) {
				args = append(args, fmt.Sprintf("field%d", f), word(r)+"-"+strconv.Itoa(r.IntN(10000)))
			}
			resp(bw, args...)
		case p < 95:
			args := []string{"RPUSH", "list:" + key}
			for range 3 + r.IntN(20) {
				args = append(args, word(r)+":"+strconv.Itoa(r.IntN(1e6)))
			}
			resp(bw, args...)
		default:
			args := []string{"ZADD", "zset:" + key}
			for range 3 + r.IntN(20) {
				args = append(args, strconv.FormatFloat(r.Float64()*1000, 'f', 3, 64), word(r)+strconv.Itoa(r.IntN(1e6)))
			}
			resp(bw, args...)
		}
	}
	return bw.Flush()
}

func word(r *rand.Rand) string { return words[r.IntN(len(words))] }

// jsonValue is a JSON document of about n bytes with varied fields.
func jsonValue(r *rand.Rand, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%d,"user":"%s_%d","email":"%s.%s@example.com","score":%.3f,"active":%t,"tags":["%s","%s"],"note":"`,
		r.IntN(1e9), word(r), r.IntN(1e5), word(r), word(r), r.Float64()*100, r.IntN(2) == 0, word(r), word(r))
	for b.Len() < n-2 {
		b.WriteString(word(r))
		if r.IntN(4) == 0 {
			b.WriteString(strconv.Itoa(r.IntN(1e4)))
		}
		b.WriteByte(' ')
	}
	b.WriteString(`"}`)
	return b.String()
}

func resp(w *bufio.Writer, args ...string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}
