package cuhttp

import (
	"sync"
	"time"
)

// rateLimiter is a sliding window of request times per client.
type rateLimiter struct {
	window time.Duration
	max    int
	now    func() time.Time
	mu     sync.Mutex
	hits   map[string][]time.Time
	stop   chan struct{}
	done   chan struct{}
}

func newRateLimiter(window time.Duration, max int, now func() time.Time) *rateLimiter {
	l := &rateLimiter{window: window, max: max, now: now, hits: map[string][]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.janitor()
	return l
}

func (l *rateLimiter) prune(client string, now time.Time) []time.Time {
	h := l.hits[client]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= l.window {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(l.hits, client)
	} else {
		l.hits[client] = h
	}
	return h
}

func (l *rateLimiter) allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.prune(client, l.now())) < l.max
}

func (l *rateLimiter) record(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hits[client] = append(l.hits[client], l.now())
}

// remove forgets the client's latest request (a cached dry-run is free).
func (l *rateLimiter) remove(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.hits[client]; len(h) > 0 {
		l.hits[client] = h[:len(h)-1]
	}
}

func (l *rateLimiter) janitor() {
	defer close(l.done)
	t := time.NewTicker(max(l.window, time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			now := l.now()
			for c := range l.hits {
				l.prune(c, now)
			}
			l.mu.Unlock()
		}
	}
}

func (l *rateLimiter) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}
