// Package diff compares the configurations of two Envoy proxies semantically, resource by
// resource: clusters, listeners, route configurations, secrets (what their certificates say,
// never key material), EDS endpoints and the bootstrap. Resources are paired by name, lists
// inside them by key (filter chains by name or match, virtual hosts and filters by name,
// endpoints by address), and each difference is reported with its field path and the old and
// new values. What is noise is left out: update times and versions, the order of resources,
// of map keys and of lists whose order Envoy ignores, and, between two proxies, each one's own
// name, IP and node id.
//
// It does no I/O: it is fed parsed dumps (configdump). Each resource is first hashed as the
// document holds it; only the resources whose bytes differ are decoded and walked, so two
// large dumps that differ in a few resources compare in about the time it takes to read them.
package diff

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"regexp"
	"sort"
	"strconv"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/configdump"
	"github.com/proxyctl/proxyctl/internal/parallel"
)

// Kind is a kind of resource compared.
type Kind string

// The kinds, in the order reports list them.
const (
	Bootstrap Kind = "bootstrap"
	Cluster   Kind = "cluster"
	Listener  Kind = "listener"
	Route     Kind = "route"
	Secret    Kind = "secret"
	Endpoint  Kind = "endpoint"
)

// Kinds are every kind, in report order.
var Kinds = []Kind{Bootstrap, Cluster, Listener, Route, Secret, Endpoint}

var kindNames = map[string]Kind{
	"bootstrap": Bootstrap, "b": Bootstrap,
	"cluster": Cluster, "clusters": Cluster, "c": Cluster, "cds": Cluster,
	"listener": Listener, "listeners": Listener, "l": Listener, "lds": Listener,
	"route": Route, "routes": Route, "r": Route, "rds": Route,
	"secret": Secret, "secrets": Secret, "s": Secret, "sds": Secret,
	"endpoint": Endpoint, "endpoints": Endpoint, "ep": Endpoint, "eds": Endpoint,
}

// ParseKind reads a kind as --type takes it (singular, plural, short or xDS name).
func ParseKind(s string) (Kind, error) {
	if k, ok := kindNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return k, nil
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown resource type %q: use %s", s, strings.Join(names, ", "))
}

// Options select what is compared and how.
type Options struct {
	// Kinds to compare; nil: all.
	Kinds []Kind
	// Name, when set, keeps the resources whose name (normalised) it matches.
	Name *regexp.Regexp
	// KeepIdentity compares each proxy's own name, IPs and node id as they are.
	KeepIdentity bool
	// DynamicOnly leaves out static resources (what istiod sends has none).
	DynamicOnly bool
	// Documents keeps each changed, added or removed resource whole (Resource.Old and New),
	// for printing it.
	Documents bool
}

func (o Options) wants(k Kind) bool {
	if o.Kinds == nil {
		return true
	}
	for _, w := range o.Kinds {
		if w == k {
			return true
		}
	}
	return false
}

// Side is one of the proxies compared.
type Side struct {
	Dump *configdump.Dump
	// Identity is what is known of the proxy from elsewhere (its pod); its bootstrap adds the
	// rest.
	Identity Identity
	// Release, when set, is given each section's bytes once they have been hashed, so that a
	// caller that mapped the document can drop them from memory.
	Release func([]byte)
}

// Change says what happened to a resource from the first side to the second.
type Change string

// The changes.
const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// Resource is one resource that differs.
type Resource struct {
	Kind   Kind
	Name   string
	Change Change
	// Fields are the differences of a changed resource.
	Fields []FieldChange
	// Old and New are the resource on each side in canonical form (plain data), with
	// Options.Documents; nil where it is absent.
	Old, New any
}

// Note is something the comparison could not look at, such as a section only one side has.
type Note struct {
	Kind Kind
	Text string
}

// Result is what differs between two proxies.
type Result struct {
	Resources []Resource
	Notes     []Note
	// Compared is how many resources of each kind were compared (paired, added or removed).
	Compared map[Kind]int
	// Normalised tells that each side's identity was normalised (two different proxies).
	Normalised bool
}

// Same reports whether nothing differs.
func (r *Result) Same() bool { return len(r.Resources) == 0 }

// Prepared is one side, indexed: each resource's name and hash.
type Prepared struct {
	side      Side
	id        Identity
	bootstrap *adminv3.BootstrapConfigDump
	kinds     map[Kind]*index
	missing   map[Kind]error
}

// Identity is the side's identity: what the caller knew and what its bootstrap says.
func (p *Prepared) Identity() Identity { return p.id }

type index struct {
	set     resourceSet
	section configdump.Section
	entries []entry
}

// tainted reports, for each entry, whether its bytes mention one of the side's own identity
// values: those cannot be judged equal by their bytes when identities are normalised. What is
// learnt is kept for the next comparison, and the bytes read are released again.
func (p *Prepared) tainted(ix *index, es []entry) ([]bool, error) {
	own := newReplacer(p.id, Identity{}).values()
	out := make([]bool, 0, len(es))
	scanned := false
	err := parallel.Ordered(len(es), func(k int) (int8, error) {
		e := ix.entries[es[k].pos]
		if e.taint != 0 {
			return e.taint, nil
		}
		raw := ix.set.Raw(e.i)
		for _, t := range own {
			if bytes.Contains(raw, t) {
				return 2, nil
			}
		}
		return 1, nil
	}, func(t int8) error {
		e := &ix.entries[es[len(out)].pos]
		scanned = scanned || e.taint == 0
		e.taint = t
		out = append(out, t == 2)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if scanned && p.side.Release != nil {
		for _, b := range p.side.Dump.SectionData(ix.section) {
			p.side.Release(b)
		}
	}
	return out, nil
}

type entry struct {
	i    int
	name string // as the dump has it
	hash uint64
	pos  int // in index.entries
	// taint tells whether the bytes mention the side's own identity: 0 not known yet, 1 no,
	// 2 yes.
	taint int8
}

// Prepare indexes one side: it reads the name and hashes the bytes of every resource, on all
// cores, without decoding them.
func Prepare(s Side, o Options) (*Prepared, error) {
	p := &Prepared{side: s, id: s.Identity, kinds: map[Kind]*index{}, missing: map[Kind]error{}}
	if b, err := s.Dump.Bootstrap(); err == nil {
		p.bootstrap = b
		p.id = p.id.Merge(BootstrapIdentity(b))
	} else if !errors.Is(err, configdump.ErrMissingSection) {
		if o.wants(Bootstrap) {
			return nil, err
		}
	} else {
		p.missing[Bootstrap] = err
	}
	p.id.IPs = identityIPs(p.id.IPs)
	for _, spec := range specs {
		if !o.wants(spec.kind) {
			continue
		}
		set, err := spec.open(s.Dump)
		if errors.Is(err, configdump.ErrMissingSection) {
			p.missing[spec.kind] = err
			continue
		}
		if err != nil {
			return nil, err
		}
		ix := &index{set: set, section: spec.section}
		err = parallel.Ordered(set.Len(), func(i int) (entry, error) {
			if o.DynamicOnly && !strings.HasPrefix(set.Origin(i), "dynamic") {
				return entry{i: -1}, nil
			}
			name, err := set.Key(i)
			if err != nil {
				return entry{}, err
			}
			return entry{i: i, name: name, hash: maphash.Bytes(hashSeed, set.Raw(i))}, nil
		}, func(e entry) error {
			if e.i >= 0 {
				e.pos = len(ix.entries)
				ix.entries = append(ix.entries, e)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.kind, err)
		}
		if err := nameUnnamed(ix, spec, s.Dump); err != nil {
			return nil, fmt.Errorf("%s: %w", spec.kind, err)
		}
		p.kinds[spec.kind] = ix
		if s.Release != nil {
			for _, b := range s.Dump.SectionData(spec.section) {
				s.Release(b)
			}
		}
	}
	return p, nil
}

// nameUnnamed names the resources that have no name (Istio's static listeners and route
// configurations) after what they are: a listener by its address, a route configuration by
// its virtual hosts, in parentheses.
func nameUnnamed(ix *index, spec kindSpec, d *configdump.Dump) error {
	if spec.unnamed == nil {
		return nil
	}
	var at, indexes []int
	for k, e := range ix.entries {
		if e.name == "" {
			at = append(at, k)
			indexes = append(indexes, e.i)
		}
	}
	if len(indexes) == 0 {
		return nil
	}
	trees, err := buildTrees(ix.set, indexes, &builder{d: d})
	if err != nil {
		return err
	}
	for _, k := range at {
		ix.entries[k].name = "(" + spec.unnamed(trees[ix.entries[k].i]) + ")"
	}
	return nil
}

// Compare compares two prepared sides: what changed from a to b.
func Compare(a, b *Prepared, o Options) (*Result, error) {
	res := &Result{Compared: map[Kind]int{}}
	var ra, rb *replacer
	if !o.KeepIdentity && !a.id.IsZero() && !b.id.IsZero() && !a.id.SameProxy(b.id) {
		ra, rb = newReplacer(a.id, b.id), newReplacer(b.id, a.id)
		res.Normalised = ra != nil || rb != nil
	}
	ba := &builder{d: a.side.Dump, r: ra, workloadCert: res.Normalised}
	bb := &builder{d: b.side.Dump, r: rb, workloadCert: res.Normalised}
	for _, k := range Kinds {
		if !o.wants(k) {
			continue
		}
		errA, errB := a.missing[k], b.missing[k]
		switch {
		case errA != nil && errB != nil:
			if o.Kinds != nil {
				res.Notes = append(res.Notes, Note{k, "neither side has " + sectionName(k)})
			}
			continue
		case errA != nil || errB != nil:
			which := "the first"
			if errA != nil {
				which = "the second"
			}
			res.Notes = append(res.Notes, Note{k, "only " + which + " side has " + sectionName(k) + ": not compared"})
			continue
		}
		if k != Bootstrap && (a.kinds[k] == nil || b.kinds[k] == nil) {
			return nil, fmt.Errorf("diff: %ss were not prepared: give Prepare and Compare the same kinds", k)
		}
		var err error
		if k == Bootstrap {
			err = compareBootstrap(a, b, ba, bb, o, res)
		} else {
			err = compareKind(k, a, b, ba, bb, o, res)
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func sectionName(k Kind) string {
	switch k {
	case Bootstrap:
		return "a bootstrap section"
	case Endpoint:
		return "an EDS section (Envoy includes it with /config_dump?include_eds)"
	}
	return "a " + string(k) + "s section"
}

// bootstrapName is the name the bootstrap is reported under.
const bootstrapName = "bootstrap"

func compareBootstrap(a, b *Prepared, ba, bb *builder, o Options, res *Result) error {
	if o.Name != nil && !o.Name.MatchString(bootstrapName) {
		return nil
	}
	res.Compared[Bootstrap]++
	ta, err := ba.message(a.bootstrap.GetBootstrap().ProtoReflect())
	if err != nil {
		return fmt.Errorf("bootstrap of the first side: %w", err)
	}
	tb, err := bb.message(b.bootstrap.GetBootstrap().ProtoReflect())
	if err != nil {
		return fmt.Errorf("bootstrap of the second side: %w", err)
	}
	if res.Normalised {
		forgetPerPod(ta)
		forgetPerPod(tb)
	}
	if fields := diffNodes("", ta, tb, nil); len(fields) > 0 {
		r := Resource{Kind: Bootstrap, Name: bootstrapName, Change: Changed, Fields: fields}
		if o.Documents {
			r.Old, r.New = ta.value(), tb.value()
		}
		res.Resources = append(res.Resources, r)
	}
	return nil
}

// perPodMetadata are the node metadata of an Istio proxy that are each pod's own besides its
// name and IPs, with their placeholders.
var perPodMetadata = []struct {
	path        []string
	placeholder string
}{
	// When the kubelet first saw the pod.
	{[]string{"node", "metadata", "ANNOTATIONS", "kubernetes.io/config.seen"}, "<POD_SEEN>"},
}

// forgetPerPod replaces the per-pod metadata of a bootstrap by placeholders.
func forgetPerPod(bootstrap *node) {
	for _, p := range perPodMetadata {
		n := bootstrap
		for _, name := range p.path {
			n = n.get(name)
		}
		if n != nil && n.kind == scalarNode {
			n.scalar, n.hashed = p.placeholder, false
		}
	}
}

// byName groups a side's entries of one kind by normalised name.
func byName(ix *index, r *replacer, o Options, suffix func(origin string) string) map[string][]entry {
	out := make(map[string][]entry, len(ix.entries))
	for _, e := range ix.entries {
		name := r.apply(e.name)
		if suffix != nil {
			name += suffix(ix.set.Origin(e.i))
		}
		if o.Name != nil && !o.Name.MatchString(name) {
			continue
		}
		out[name] = append(out[name], e)
	}
	return out
}

// pairByName gives each resource a key unique on its side and shared with the resource it is
// compared with on the other: its name. Resources of one name (unnamed ones, a static and a
// dynamic one) are decoded and paired by content first, then in order: NAME, NAME #2...
func pairByName(ga, gb map[string][]entry, ia, ib *index, ba, bb *builder) (ka, kb map[string]entry, treesA, treesB map[int]*node, err error) {
	ka, kb = make(map[string]entry, len(ga)), make(map[string]entry, len(gb))
	var dupA, dupB []int
	for n, es := range ga {
		if len(es) > 1 || len(gb[n]) > 1 {
			for _, e := range es {
				dupA = append(dupA, e.i)
			}
			for _, e := range gb[n] {
				dupB = append(dupB, e.i)
			}
		}
	}
	for n, es := range gb {
		if _, ok := ga[n]; !ok && len(es) > 1 {
			for _, e := range es {
				dupB = append(dupB, e.i)
			}
		}
	}
	if treesA, err = buildTrees(ia.set, dupA, ba); err != nil {
		return nil, nil, nil, nil, err
	}
	if treesB, err = buildTrees(ib.set, dupB, bb); err != nil {
		return nil, nil, nil, nil, err
	}
	key := func(n string, k int) string {
		if k == 0 {
			return n
		}
		return n + " #" + strconv.Itoa(k+1)
	}
	for n, as := range ga {
		bs := gb[n]
		if len(as) == 1 && len(bs) <= 1 {
			ka[n] = as[0]
			if len(bs) == 1 {
				kb[n] = bs[0]
			}
			continue
		}
		usedB := make([]bool, len(bs))
		var restA []entry
		k := 0
		for _, ea := range as {
			found := false
			for j, eb := range bs {
				if !usedB[j] && equal(treesA[ea.i], treesB[eb.i]) {
					usedB[j], found = true, true
					ka[key(n, k)], kb[key(n, k)] = ea, eb
					k++
					break
				}
			}
			if !found {
				restA = append(restA, ea)
			}
		}
		var restB []entry
		for j, eb := range bs {
			if !usedB[j] {
				restB = append(restB, eb)
			}
		}
		for i := 0; i < max(len(restA), len(restB)); i++ {
			if i < len(restA) {
				ka[key(n, k)] = restA[i]
			}
			if i < len(restB) {
				kb[key(n, k)] = restB[i]
			}
			k++
		}
	}
	for n, bs := range gb {
		if _, ok := ga[n]; ok {
			continue
		}
		for k, eb := range bs {
			kb[key(n, k)] = eb
		}
	}
	return ka, kb, treesA, treesB, nil
}

func compareKind(k Kind, pa, pb *Prepared, ba, bb *builder, o Options, res *Result) error {
	ia, ib := pa.kinds[k], pb.kinds[k]
	spec := specOf(k)
	ka, kb, builtA, builtB, err := pairByName(byName(ia, ba.r, o, spec.suffix), byName(ib, bb.r, o, spec.suffix), ia, ib, ba, bb)
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	names := make([]string, 0, len(ka)+len(kb))
	for n := range ka {
		names = append(names, n)
	}
	for n := range kb {
		if _, ok := ka[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	res.Compared[k] += len(names)
	// Which resources need to be decoded: those whose bytes differ, or mention an identity.
	var needA, needB []int
	type pending struct {
		name   string
		ea, eb entry
		hasA   bool
		hasB   bool
	}
	var todo []pending
	// Equal bytes are the same resource, unless identities are normalised and the bytes
	// mention one (then they are walked like the others).
	sameBytes := map[string]bool{}
	var checkA, checkB []entry
	var checkNames []string
	for _, n := range names {
		ea, okA := ka[n]
		eb, okB := kb[n]
		if okA && okB && ea.hash == eb.hash {
			if ba.r == nil && bb.r == nil || k == Endpoint {
				sameBytes[n] = true
				continue
			}
			checkA, checkB, checkNames = append(checkA, ea), append(checkB, eb), append(checkNames, n)
		}
	}
	if len(checkNames) > 0 {
		ta, err := pa.tainted(ia, checkA)
		if err != nil {
			return err
		}
		tb, err := pb.tainted(ib, checkB)
		if err != nil {
			return err
		}
		for i, n := range checkNames {
			if !ta[i] && !tb[i] {
				sameBytes[n] = true
			}
		}
	}
	for _, n := range names {
		ea, okA := ka[n]
		eb, okB := kb[n]
		if sameBytes[n] {
			continue
		}
		if okA && (okB || o.Documents) && builtA[ea.i] == nil {
			needA = append(needA, ea.i)
		}
		if okB && (okA || o.Documents) && builtB[eb.i] == nil {
			needB = append(needB, eb.i)
		}
		todo = append(todo, pending{n, ea, eb, okA, okB})
	}
	if len(todo) == 0 {
		return nil
	}
	treesA, err := buildTrees(ia.set, needA, ba)
	if err != nil {
		return fmt.Errorf("%s on the first side: %w", k, err)
	}
	treesB, err := buildTrees(ib.set, needB, bb)
	if err != nil {
		return fmt.Errorf("%s on the second side: %w", k, err)
	}
	for i, t := range builtA {
		treesA[i] = t
	}
	for i, t := range builtB {
		treesB[i] = t
	}
	for _, t := range todo {
		r := Resource{Kind: k, Name: t.name}
		ta, tb := treesA[t.ea.i], treesB[t.eb.i]
		switch {
		case !t.hasA:
			r.Change = Added
		case !t.hasB:
			r.Change = Removed
		default:
			r.Change = Changed
			if r.Fields = diffNodes("", ta, tb, nil); len(r.Fields) == 0 {
				continue // noise only
			}
		}
		if o.Documents {
			if t.hasA {
				r.Old = ta.value()
			}
			if t.hasB {
				r.New = tb.value()
			}
		}
		res.Resources = append(res.Resources, r)
	}
	return nil
}

// buildTrees decodes the resources at indexes, on all cores, into canonical form.
func buildTrees(set resourceSet, indexes []int, b *builder) (map[int]*node, error) {
	out := make(map[int]*node, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	sort.Ints(indexes)
	k := 0
	err := set.each(indexes, func(m proto.Message) (*node, error) {
		local := *b // the depth count is the goroutine's own
		return local.message(m.ProtoReflect())
	}, func(n *node) error {
		out[indexes[k]] = n
		k++
		return nil
	})
	return out, err
}

// resourceSet is a section's resources, whatever their type.
type resourceSet interface {
	Len() int
	Raw(i int) []byte
	Origin(i int) string
	Key(i int) (string, error)
	each(indexes []int, fn func(proto.Message) (*node, error), emit func(*node) error) error
}

type typedSet[T proto.Message] struct {
	res      configdump.Resources[T]
	keyField string
}

func (s typedSet[T]) Len() int                  { return s.res.Len() }
func (s typedSet[T]) Raw(i int) []byte          { return s.res.Raw(i) }
func (s typedSet[T]) Origin(i int) string       { return s.res.Origin(i) }
func (s typedSet[T]) Key(i int) (string, error) { return s.res.StringField(i, s.keyField) }
func (s typedSet[T]) each(indexes []int, fn func(proto.Message) (*node, error), emit func(*node) error) error {
	return configdump.Each(s.res, indexes, func(m T) (*node, error) { return fn(m) }, emit)
}

func open[T proto.Message](get func() (configdump.Resources[T], error), keyField string) (resourceSet, error) {
	res, err := get()
	if err != nil {
		return nil, err
	}
	return typedSet[T]{res, keyField}, nil
}

// kindSpec says where a kind's resources are and how they are named.
type kindSpec struct {
	kind    Kind
	section configdump.Section
	open    func(*configdump.Dump) (resourceSet, error)
	// suffix tells apart resources of one name in different states (a warming secret).
	suffix func(origin string) string
	// unnamed names a resource that has no name.
	unnamed func(*node) string
}

var specs = []kindSpec{
	{Cluster, configdump.ClustersSection, func(d *configdump.Dump) (resourceSet, error) {
		return open(d.ClusterResources, "name")
	}, nil, nil},
	{Listener, configdump.ListenersSection, func(d *configdump.Dump) (resourceSet, error) {
		return open(d.ListenerResources, "name")
	}, nil, listenerAddress},
	{Route, configdump.RoutesSection, func(d *configdump.Dump) (resourceSet, error) {
		return open(d.RouteConfigResources, "name")
	}, nil, virtualHostNames},
	{Secret, configdump.SecretsSection, func(d *configdump.Dump) (resourceSet, error) {
		return open(d.SecretResources, "name")
	}, func(origin string) string {
		if origin == "dynamic_warming_secrets" {
			return " (warming)"
		}
		return ""
	}, nil},
	{Endpoint, configdump.EndpointsSection, func(d *configdump.Dump) (resourceSet, error) {
		return open(d.LoadAssignmentResources, "cluster_name")
	}, nil, nil},
}

// listenerAddress is ADDRESS:PORT, a pipe's path, or an internal listener's name.
func listenerAddress(n *node) string {
	addr := n.get("address")
	if sa := addr.get("socket_address"); sa != nil {
		port := sa.get("port_value")
		if port == nil {
			return sa.get("address").str() + ":0"
		}
		return fmt.Sprintf("%s:%v", sa.get("address").str(), port.scalar)
	}
	if p := addr.get("pipe"); p != nil {
		return p.get("path").str()
	}
	return "no address"
}

// virtualHostNames are a route configuration's virtual hosts' names.
func virtualHostNames(n *node) string {
	var names []string
	for _, it := range n.get("virtual_hosts").items {
		names = append(names, it.n.get("name").str())
	}
	if len(names) == 0 {
		return "no virtual hosts"
	}
	return "virtual hosts " + strings.Join(names, ",")
}

func specOf(k Kind) kindSpec {
	for _, s := range specs {
		if s.kind == k {
			return s
		}
	}
	return kindSpec{kind: k}
}

// Group is replicas with the same configuration: indexes into the list GroupReplicas was given.
type Group struct {
	Members []int
}

// GroupReplicas sorts replicas into groups of identical configuration (as Compare judges it),
// the largest first (on a tie, the one whose first member comes first).
func GroupReplicas(pods []*Prepared, o Options) ([]Group, error) {
	o.Documents = false
	var groups []Group
	for i, p := range pods {
		placed := false
		for g := range groups {
			r, err := Compare(pods[groups[g].Members[0]], p, o)
			if err != nil {
				return nil, err
			}
			if r.Same() {
				groups[g].Members = append(groups[g].Members, i)
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, Group{Members: []int{i}})
		}
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].Members) > len(groups[j].Members) })
	return groups, nil
}
