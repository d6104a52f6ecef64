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

// templateFields counts the fields of a template as goflow2 stores it.
func templateFields(tpl any) int {
	switch t := tpl.(type) {
	case netflow.TemplateRecord:
		return len(t.Fields)
	case netflow.IPFIXOptionsTemplateRecord:
		return len(t.Scopes) + len(t.Options)
	case netflow.NFv9OptionsTemplateRecord:
		return len(t.Scopes) + len(t.Options)
	}
	return 0
}

// templateStore is goflow2's NetFlowTemplateSystem for one exporter address,
// with a cap on how many templates it keeps so a flood cannot grow memory.
type templateStore struct {
	mu      sync.RWMutex
	max     int
	total   *atomic.Int64 // templates held by the whole decoder
	maxAll  int64
	m       map[uint64]any
	fast    map[uint64]*compiled // data templates readable in place
	changed func(n int)
}

func newTemplateStore(max int, total *atomic.Int64, maxAll int64, changed func(int)) *templateStore {
	return &templateStore{max: max, total: total, maxAll: maxAll, m: map[uint64]any{}, fast: map[uint64]*compiled{}, changed: changed}
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
	k := templateKey(version, domain, id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if templateFields(tpl) > maxTemplateFields {
		return errTemplateLimit
	}
	if _, ok := t.m[k]; !ok {
		if len(t.m) >= t.max || t.total.Load() >= t.maxAll {
			return errTemplateLimit
		}
		t.total.Add(1)
	}
	t.m[k] = tpl
	if c := compile(tpl); c != nil {
		t.fast[k] = c
	} else {
		delete(t.fast, k)
	}
	t.changed(len(t.m))
	return nil
}

func (t *templateStore) GetTemplate(version uint16, domain uint32, id uint16) (any, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if tpl, ok := t.m[templateKey(version, domain, id)]; ok {
		return tpl, nil
	}
	return nil, netflow.ErrorTemplateNotFound
}

func (t *templateStore) RemoveTemplate(version uint16, domain uint32, id uint16) (any, error) {
	k := templateKey(version, domain, id)
	t.mu.Lock()
	defer t.mu.Unlock()
	tpl, ok := t.m[k]
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	delete(t.m, k)
	delete(t.fast, k)
	t.total.Add(-1)
	t.changed(len(t.m))
	return tpl, nil
}

// GetTemplates returns a copy (goflow2's interface asks for one).
func (t *templateStore) GetTemplates() netflow.FlowBaseTemplateSet {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(netflow.FlowBaseTemplateSet, len(t.m))
	for k, v := range t.m {
		out[k] = v
	}
	return out
}
