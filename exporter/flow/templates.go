package flow

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// errTemplateLimit is returned to goflow2 when a source exceeds its template
// cap, the decoder its total, or a template has implausibly many fields.
var errTemplateLimit = errors.New("template limit reached")

// maxTemplateFields bounds one template (real ones have well under 100 fields),
// so the memory of the templates held is bounded by their count.
const maxTemplateFields = 512

// fieldLists are the field lists of a template as goflow2 stores it (nil
// for a kind it has none of).
func fieldLists(tpl any) [][]netflow.Field {
	switch t := tpl.(type) {
	case netflow.TemplateRecord:
		return [][]netflow.Field{t.Fields}
	case netflow.IPFIXOptionsTemplateRecord:
		return [][]netflow.Field{t.Scopes, t.Options}
	case netflow.NFv9OptionsTemplateRecord:
		return [][]netflow.Field{t.Scopes, t.Options}
	}
	return nil
}

// templateShape is a template's field count and whether its records take at
// least one byte (a field of fixed length above zero, or one of variable
// length, 0xFFFF, whose length prefix is read).
func templateShape(tpl any) (fields int, hasBytes bool) {
	lists := fieldLists(tpl)
	if lists == nil {
		return 0, true // not a kind goflow2 loops over
	}
	for _, l := range lists {
		fields += len(l)
		for _, f := range l {
			hasBytes = hasBytes || f.Length > 0
		}
	}
	return fields, hasBytes
}

// template is one stored template with the time it was last announced or used.
type template struct {
	tpl  any
	fast *compiled // nil unless readable in place
	used atomic.Int64
}

// touch records a use at now (unix ns), writing only when the stamp is more
// than a second old so that readers of a busy template share a clean cache line.
func (e *template) touch(now int64) {
	if now-e.used.Load() > 1e9 {
		e.used.Store(now)
	}
}

// templateStore is goflow2's NetFlowTemplateSystem for one exporter address,
// with a cap on how many templates it keeps so a flood cannot grow memory.
type templateStore struct {
	mu   sync.RWMutex
	max  int
	m    map[uint64]*template
	dead bool // the source was forgotten: nothing more is stored
	// clock is the receive time (unix ns) of the datagram being decoded,
	// stamped on templates goflow2 adds or looks up.
	clock atomic.Int64
	// reserve takes one slot of the decoder's total (making room if it can);
	// release gives slots back.
	reserve func() bool
	release func(n int)
	changed func(n int)
}

func newTemplateStore(max int, reserve func() bool, release func(int), changed func(int)) *templateStore {
	return &templateStore{max: max, m: map[uint64]*template{}, reserve: reserve, release: release, changed: changed}
}

func templateKey(version uint16, domain uint32, id uint16) uint64 {
	return uint64(version)<<48 | uint64(domain)<<16 | uint64(id)
}

func (t *templateStore) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

func (t *templateStore) AddTemplate(version uint16, domain uint32, id uint16, tpl any) error {
	fields, hasBytes := templateShape(tpl)
	if fields > maxTemplateFields {
		return errTemplateLimit
	}
	if !hasBytes {
		// Records of no bytes: an IPFIX template withdrawal (a template of
		// no fields, RFC 7011 §8.1) or a malformed template. Kept, it
		// would hang goflow2 on the next data set of its id: goflow2 reads
		// records while the set has room for one, which then is always,
		// and allocates one each time (FuzzDecodeNetFlow: a 33-byte v9
		// datagram took the test to 24 GB). So the id is forgotten, and its
		// data sets count as of a missing template.
		t.RemoveTemplate(version, domain, id) //nolint:errcheck // not known is fine
		return nil
	}
	k := templateKey(version, domain, id)
	e := &template{tpl: tpl, fast: compile(tpl)}
	e.used.Store(t.clock.Load())
	t.mu.Lock()
	if t.replace(k, e) {
		t.mu.Unlock()
		return nil
	}
	full := t.dead || len(t.m) >= t.max
	t.mu.Unlock()
	// A slot of the total is taken without holding t.mu: making room locks
	// the decoder and other sources' stores (the decoder's lock comes first).
	if full || !t.reserve() {
		return errTemplateLimit
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.replace(k, e) {
		t.release(1) // announced twice at once
		return nil
	}
	if t.dead || len(t.m) >= t.max {
		t.release(1)
		return errTemplateLimit
	}
	t.m[k] = e
	t.changed(len(t.m))
	return nil
}

// replace overwrites a known template (a refresh or a redefinition).
func (t *templateStore) replace(k uint64, e *template) bool {
	if _, ok := t.m[k]; !ok {
		return false
	}
	t.m[k] = e
	return true
}

func (t *templateStore) GetTemplate(version uint16, domain uint32, id uint16) (any, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if e, ok := t.m[templateKey(version, domain, id)]; ok {
		e.touch(t.clock.Load())
		return e.tpl, nil
	}
	return nil, netflow.ErrorTemplateNotFound
}

func (t *templateStore) RemoveTemplate(version uint16, domain uint32, id uint16) (any, error) {
	k := templateKey(version, domain, id)
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	delete(t.m, k)
	t.release(1)
	t.changed(len(t.m))
	return e.tpl, nil
}

// GetTemplates returns a copy (goflow2's interface asks for one).
func (t *templateStore) GetTemplates() netflow.FlowBaseTemplateSet {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(netflow.FlowBaseTemplateSet, len(t.m))
	for k, v := range t.m {
		out[k] = v.tpl
	}
	return out
}

// expire drops the templates not announced or used since cutoff (unix ns)
// and returns how many.
func (t *templateStore) expire(cutoff int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, e := range t.m {
		if e.used.Load() < cutoff {
			delete(t.m, k)
			n++
		}
	}
	if n > 0 {
		t.release(n)
		t.changed(len(t.m))
	}
	return n
}

// drop forgets every template for good (the source is forgotten).
func (t *templateStore) drop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dead = true
	if n := len(t.m); n > 0 {
		t.release(n)
	}
	clear(t.m)
}
