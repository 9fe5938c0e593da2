package configdump

import (
	"google.golang.org/protobuf/types/known/anypb"
)

// DocumentFromConfigs writes the admin document {"configs": [...]} of an envoy.admin.v3.ConfigDump
// holding configs, as Envoy's /config_dump prints it: each Any decoded into its type (linked, or
// built from the embedded descriptors) with secret material redacted. istiod's xDS debug API
// sends a proxy's config dump that way, as the Anys of its configs (binary payloads); Parse
// reads the result like a dump fetched over HTTP.
//
// A config, or an Any inside one, of a type this binary does not know is kept, as
// {"@type": URL, "value": BASE64}.
func DocumentFromConfigs(configs []*anypb.Any) ([]byte, error) {
	e := newEncoder(nil, &typeSet{})
	e.keepBinary = true
	e.buf = append(e.buf, "{\n    \"configs\": ["...)
	for i, c := range configs {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.depth = 2
		e.newline()
		if err := e.Message(c); err != nil {
			return nil, err
		}
	}
	if len(configs) > 0 {
		e.buf = append(e.buf, "\n    "...)
	}
	e.buf = append(e.buf, "]\n}\n"...)
	return e.buf, nil
}
