package schedule

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"

	"github.com/aocu/aocu/internal/ao"
)

// PageChecker refuses an SU page that breaks the schedule's invariants, before
// anything of it is evaluated: nonces strictly consecutive from the position
// (a gap, a reorder or a repeated message), timestamps that never go back,
// and every Hash-Chain link whose previous assignment is known. The reference
// checks only the hash chain, and only for processes from block 1,440,000;
// below that it evaluates whatever the SU sends and stores wrong results.
type PageChecker struct {
	su, pid   string
	next      int64 // the nonce the next edge must carry
	lastTS    int64
	prevID    string // the previous assignment id, "" when unknown
	prevChain string
	// chainChecked: the stream's own 422 check covers the chain (the
	// reference's behaviour from block 1,440,000).
	chainChecked bool
}

// Position is where a process stands in its schedule, for the checker.
type Position struct {
	Cold         bool // nothing evaluated yet
	Nonce        int64
	Timestamp    int64
	AssignmentID string
	HashChain    string
}

// NewPageChecker checks the pages that follow pos. chainChecked: the caller
// verifies the hash chain itself (the reference's check from block
// 1,440,000).
func NewPageChecker(su, pid string, pos Position, chainChecked bool) *PageChecker {
	// A schedule starts at nonce 0: the process itself since AOP-6, the first
	// message before it (the Rust SU, store.rs). A first page that starts at
	// 1 lacks its first edge.
	c := &PageChecker{su: su, pid: pid, chainChecked: chainChecked}
	if !pos.Cold {
		c.next, c.lastTS = pos.Nonce+1, pos.Timestamp
		c.prevID, c.prevChain = pos.AssignmentID, pos.HashChain
	}
	return c
}

// Check refuses a page that breaks the invariants (a 502).
func (c *PageChecker) Check(page *ao.SUPage) error {
	for i := range page.Edges {
		e := &page.Edges[i]
		at := e.Assignment.Tags
		nv, _ := ao.TagValue(at, "Nonce")
		nonce, ok := ParseIntJS(nv)
		if !ok {
			return c.refuse(nv, "its Nonce tag is not a number")
		}
		switch {
		case c.next == 0 && nonce != 0:
			return c.refuse(nv, "the schedule starts at nonce "+nv+", not 0 (its first message is missing)")
		case nonce != c.next:
			return c.refuse(nv, "expected nonce "+strconv.FormatInt(c.next, 10)+" (a gap, a reorder or a repeated message)")
		}
		tv, _ := ao.TagValue(at, "Timestamp")
		ts, ok := ParseIntJS(tv)
		if !ok {
			return c.refuse(nv, "its Timestamp tag is not a number")
		}
		if ts < c.lastTS {
			return c.refuse(nv, "its timestamp "+tv+" is earlier than the previous one, "+strconv.FormatInt(c.lastTS, 10))
		}
		chain, hasChain := ao.TagValue(at, "Hash-Chain")
		if hasChain && !c.chainChecked && c.prevID != "" && c.prevChain != "" && !chainLinks(c.prevID, c.prevChain, chain) {
			return c.refuse(nv, "its Hash-Chain does not follow from the previous assignment")
		}
		c.next, c.lastTS = nonce+1, ts
		c.prevID, c.prevChain = e.Assignment.ID, ""
		if hasChain {
			c.prevChain = chain
		}
	}
	return nil
}

func (c *PageChecker) refuse(nonce, why string) error {
	return ao.Errorf(502, "the scheduler %s sent an invalid page for process %s at nonce %s: %s; nothing of the page was evaluated",
		c.su, c.pid, nonce, why)
}

// chainLinks reports whether chain = base64url(sha256(prevID || prevChain)),
// the Rust SU's gen_hash_chain.
func chainLinks(prevID, prevChain, chain string) bool {
	a, err1 := base64.RawURLEncoding.DecodeString(prevID)
	h, err2 := base64.RawURLEncoding.DecodeString(prevChain)
	if err1 != nil || err2 != nil {
		return false
	}
	sum := sha256.Sum256(append(a, h...))
	return base64.RawURLEncoding.EncodeToString(sum[:]) == chain
}
