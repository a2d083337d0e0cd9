package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/autopilotpattern/redis-autopilot/backup/crypt"
	"github.com/autopilotpattern/redis-autopilot/backup/pitr"
	"github.com/autopilotpattern/redis-autopilot/backup/store"
)

// chainEntry is one point-in-time chain in `backup list` (and --json):
// the window a restore --to can reach, and how the chain stands.
type chainEntry struct {
	Chain string    `json:"chain"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Segments on the path from the base to To.
	Segments   int    `json:"segments"`
	Node       string `json:"node"`
	Encryption string `json:"encryption"` // "age" or ""
	// Status is open, ended: REASON, broken: REASON or gap: WHAT.
	Status     string     `json:"status"`
	Parent     string     `json:"parent,omitempty"`
	ParentTime *time.Time `json:"parent_time,omitempty"`
}

// listOutput is what `backup list --json` prints.
type listOutput struct {
	Backups []listEntry  `json:"backups"`
	Chains  []chainEntry `json:"chains"`
}

// listChainEntries reads every chain's window. Listing reads only names,
// chain.json and end.json, which are never encrypted, so it needs no key.
func listChainEntries(ctx context.Context, st store.Store) ([]chainEntry, error) {
	cs, err := pitr.NewChainStore(st, nil)
	if err != nil {
		return nil, err
	}
	chains, err := cs.Chains(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]chainEntry, 0, len(chains))
	for _, c := range chains {
		out = append(out, chainEntryOf(c))
	}
	return out, nil
}

func chainEntryOf(c pitr.Chain) chainEntry {
	p := pitr.Follow(c)
	e := chainEntry{Chain: c.Info.ID, From: unixTime(c.Info.BaseTS), To: unixTime(p.LastTS),
		Segments: len(p.Segments), Node: c.Info.Node, Status: "open", Parent: c.Info.Parent}
	if c.Info.Encrypted {
		e.Encryption = crypt.Scheme
	}
	if c.Info.Parent != "" {
		t := unixTime(c.Info.ParentTS)
		e.ParentTime = &t
	}
	switch {
	case p.Gap != "":
		e.Status = "gap: " + p.Gap
	case c.End != nil && c.End.Broken:
		e.Status = "broken: " + c.End.Reason
	case c.End != nil:
		e.Status = "ended: " + c.End.Reason
	}
	return e
}

// printChains prints the chains' table after the backups'.
func printChains(w io.Writer, chains []chainEntry) error {
	if len(chains) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPOINT-IN-TIME CHAIN\tFROM\tTO\tSEGMENTS\tNODE\tENCRYPTION\tPARENT\tSTATUS")
	for _, c := range chains {
		parent := "-"
		if c.Parent != "" {
			parent = c.Parent + "@" + c.ParentTime.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", c.Chain, c.From.Format(time.RFC3339), c.To.Format(time.RFC3339),
			c.Segments, c.Node, cmp.Or(c.Encryption, "none"), parent, c.Status)
	}
	return tw.Flush()
}

func unixTime(ts int64) time.Time { return time.Unix(ts, 0).UTC() }

func unixRFC3339(ts int64) string { return unixTime(ts).Format(time.RFC3339) }
