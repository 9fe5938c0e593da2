package configdump

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
)

// Indexing a large document on all cores.
//
// The indexer is a state machine that reads the document from its first byte; the bytes after
// a point depend on what came before only through the indexer's state there. Most of a dump is
// its lists of resources (dynamic_active_clusters...), and between two of their elements that
// state is nearly always the same: inside the top-level object, "configs", an entry and the
// list, a value due next. So the document is cut between elements of such lists, found by the
// indentation of pretty-printed JSON, and each part after the first is indexed at the same
// time by an indexer that assumes that state (resumeInList). The parts are then joined in
// order: a part is kept only if the part before it ended in exactly the state assumed. When it
// did not (the guess was wrong, or the document is not what it looked like), the rest of the
// document is indexed again from that cut, one part after the other, as without cuts. Either
// way the result, the errors included, is that of one indexer over the whole document.

// minSplitPart is the least a part indexed on its own core is worth: about a millisecond of
// one core.
const minSplitPart = 2 << 20

// splitPoints returns up to parts-1 offsets of data, in order, each just after the comma
// between two elements of a list of a config entry, as a pretty-printed config dump spells it:
// the indentation of its first key (`{\n  "configs"`) four levels deep, then "},", a newline
// and the same indentation again before "{". A document of another layout gets none.
func splitPoints(data []byte, parts int) []int {
	if parts < 2 || len(data) < 2*minSplitPart {
		return nil
	}
	parts = min(parts, len(data)/minSplitPart)
	unit := indentUnit(data)
	if unit == nil {
		return nil
	}
	indent := bytes.Repeat(unit, 4)
	// "\n" INDENT "},\n" INDENT "{": the cut is after the comma.
	pattern := append(append(append(append([]byte("\n"), indent...), "},\n"...), indent...), '{')
	cutAt := 1 + len(indent) + 2
	var cuts []int
	last := 0
	for k := 1; k < parts; k++ {
		from := max(len(data)*k/parts, last)
		// Look no further than half a part on: past that, the parts are too uneven to gain.
		window := data[from:min(len(data), from+len(data)/parts/2+len(pattern))]
		i := bytes.Index(window, pattern)
		if i < 0 {
			continue
		}
		cut := from + i + cutAt
		if cut-last < minSplitPart || len(data)-cut < minSplitPart {
			continue
		}
		cuts = append(cuts, cut)
		last = cut
	}
	return cuts
}

// indentUnit returns the indentation of the first key of a document that opens with '{', a
// newline and spaces or tabs before a quote, or nil.
func indentUnit(data []byte) []byte {
	if len(data) < 3 || data[0] != '{' {
		return nil
	}
	i := 1
	if data[i] == '\r' {
		i++
	}
	if i >= len(data) || data[i] != '\n' {
		return nil
	}
	i++
	start := i
	for i < len(data) && i-start < 16 && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	if i == start || i >= len(data) || data[i] != '"' {
		return nil
	}
	return data[start:i]
}

// resumeInList returns an indexer for the document from offset off on, assuming the state
// between two elements of a list of a config entry, just after their comma.
func resumeInList(off int64) *indexer {
	return &indexer{
		off: off, started: true, resumed: true,
		stack: []byte{'{', '[', '{', '['}, state: stValue,
		kind: KindConfigDump, kindSet: true, inConfigs: true, inList: true,
	}
}

// atListElement reports whether ix is in the state resumeInList assumes, in everything that
// decides what an indexer does next.
func (ix *indexer) atListElement() bool {
	return ix.started && string(ix.stack) == "{[{[" && ix.state == stValue && !ix.inString && !ix.inWord &&
		ix.kindSet && ix.kind == KindConfigDump && ix.inConfigs && ix.inList && !ix.elemsFull &&
		!ix.anysFull && ix.cand[0].state == candNone && ix.cand[1].state == candNone
}

// join appends to ix, which has read the document up to b's start, what b read from there on,
// so that ix is as if it had read it all itself. It returns false, leaving ix as it is, when b's
// assumption does not hold (ix is not in the state b started in), or when one indexer would
// have stopped recording elements where b did not.
func (ix *indexer) join(b *indexer) bool {
	if !b.resumed || !ix.atListElement() || b.elemsFull || b.anysFull {
		return false
	}
	base := len(ix.elems)
	for j, e := range b.elems {
		// The bound one indexer checks as it opens each element (see maxElems).
		if base+j >= maxElems(e.start) {
			return false
		}
	}
	for j, a := range b.anys {
		if len(ix.anys)+j >= maxElems(a.end-1) { // as it closes each typed config
			return false
		}
	}
	if !b.headListDone && (len(b.lists) > 0 || len(b.spans) > 0 || b.headEntryDone) {
		return false // cannot be: what b closed after its start, it closed after the list
	}
	head := ix.list
	lists := ix.lists
	shift := func(l listSpan) listSpan { l.first += int32(base); return l }
	list := shift(b.list)
	if b.headListDone {
		head.objects += b.headList.objects
		head.commas += b.headList.commas
		head.end = b.headList.end
		if head.objects > 0 && head.commas == head.objects-1 {
			lists = append(lists, head)
		}
		for _, l := range b.lists {
			lists = append(lists, shift(l))
		}
	} else {
		head.objects += b.list.objects
		head.commas += b.list.commas
		list = head
	}
	entry := ix.cur
	spans := ix.spans
	if b.headEntryDone {
		entry.end = b.headEntry.end
		if b.headTypeSet {
			entry.typeURL = b.headEntry.typeURL
		}
		spans = append(append(spans, entry), b.spans...)
		entry = b.cur
	} else if b.headTypeSet {
		entry.typeURL = b.cur.typeURL
	}

	topKey, configKey := ix.topKey, ix.configKey
	if b.topKeySet {
		topKey = b.topKey
	}
	if b.configKeySet {
		configKey = b.configKey
	}
	joined := *b
	joined.resumed, joined.headList, joined.headListDone, joined.headEntry, joined.headEntryDone, joined.headTypeSet =
		false, listSpan{}, false, sectionSpan{}, false, false
	joined.topKey, joined.topKeySet = topKey, ix.topKeySet || b.topKeySet
	joined.configKey, joined.configKeySet = configKey, ix.configKeySet || b.configKeySet
	joined.sawConfigs = ix.sawConfigs || b.sawConfigs
	joined.high = ix.high | b.high
	joined.kind, joined.kindSet = ix.kind, ix.kindSet
	joined.elems = append(ix.elems, b.elems...)
	joined.anys = append(ix.anys, b.anys...)
	joined.lists = lists
	joined.list = list
	joined.spans = spans
	joined.cur = entry
	*ix = joined
	return true
}

// indexDocument indexes the whole of data, on all cores when it is large (see splitPoints), and
// calls chunkDone, when not nil, with each chunk indexed: possibly from several goroutines at
// once, not in order, and a chunk may be read again after (see indexParts).
func indexDocument(data []byte, chunkDone func([]byte)) (*indexer, error) {
	return indexParts(data, splitPoints(data, runtime.GOMAXPROCS(0)), chunkDone)
}

// indexParts indexes data cut at the offsets cuts, in order, each part on its own goroutine,
// and joins the parts (see join); where a part cannot be joined, the rest of the document is
// indexed again from its start by the indexer of the parts before. A document with an error
// is indexed again by one indexer from its start: the error is then word for word the one
// indexer's (its messages quote the bytes after the error, as far as the chunk goes). That
// costs a second pass over what came before the error, once.
func indexParts(data []byte, cuts []int, chunkDone func([]byte)) (*indexer, error) {
	if len(cuts) > 0 {
		if ix, err := joinParts(data, cuts, chunkDone); err == nil {
			return ix, nil
		}
	}
	ix := &indexer{}
	if err := feedChunks(ix, data, chunkDone, nil); err != nil {
		return nil, err
	}
	return ix, nil
}

// joinParts is indexParts but for its errors, which it returns as a part found them.
func joinParts(data []byte, cuts []int, chunkDone func([]byte)) (*indexer, error) {
	bounds := append(append([]int{0}, cuts...), len(data))
	type part struct {
		ix  *indexer
		err error
	}
	parts := make([]part, len(bounds)-1)
	// failed is the first part that failed so far: the parts after it stop, as one indexer
	// stops at the document's first error.
	var failed atomic.Int64
	failed.Store(int64(len(parts)))
	var wg sync.WaitGroup
	for k := range parts {
		ix := &indexer{}
		if k > 0 {
			ix = resumeInList(int64(bounds[k]))
		}
		parts[k].ix = ix
		run := func() {
			parts[k].err = feedChunks(ix, data[bounds[k]:bounds[k+1]], chunkDone, func() bool { return failed.Load() < int64(k) })
			if parts[k].err != nil {
				for {
					f := failed.Load()
					if f <= int64(k) || failed.CompareAndSwap(f, int64(k)) {
						break
					}
				}
			}
		}
		if k == len(parts)-1 {
			run() // the last part on this goroutine
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
	ix := parts[0].ix
	if parts[0].err != nil {
		return nil, parts[0].err
	}
	for k := 1; k < len(parts); k++ {
		if !ix.join(parts[k].ix) {
			if err := feedChunks(ix, data[bounds[k]:], chunkDone, nil); err != nil {
				return nil, err
			}
			return ix, nil
		}
		if parts[k].err != nil {
			return nil, parts[k].err
		}
	}
	return ix, nil
}

// feedChunks feeds p to ix in chunks of indexChunk, calling chunkDone after each, until stop
// (when not nil) says the result is not wanted any more.
func feedChunks(ix *indexer, p []byte, chunkDone func([]byte), stop func() bool) error {
	for i := 0; i < len(p); i += indexChunk {
		if stop != nil && stop() {
			return errStopped
		}
		chunk := p[i:min(i+indexChunk, len(p))]
		if err := ix.feed(chunk); err != nil {
			return err
		}
		if chunkDone != nil {
			chunkDone(chunk)
		}
	}
	return nil
}

// errStopped ends a part whose result an earlier part's error made moot; it is never returned
// from indexParts, which returns the earlier error.
var errStopped = stoppedError{}

type stoppedError struct{}

func (stoppedError) Error() string { return "configdump: indexing stopped" }
