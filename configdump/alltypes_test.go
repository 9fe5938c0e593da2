package configdump

// The tests link every Envoy type, so that protojson can serve as the reference; the
// descriptor-built types are exercised by switching onlyDescriptors on (see useDescriptors).
import (
	"sync"
	"testing"

	_ "github.com/proxyctl/proxyctl/internal/alltypes"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// useDescriptors makes, for the rest of the test, every Any's type come from the embedded
// descriptors, as in the proxyctl binary, which links few types.
func useDescriptors(t *testing.T) {
	resetTypes := func() {
		resolved = sync.Map{}
		typesByURL.Store(nil)
		dynamic = &dynamicTypes{types: map[protoreflect.FullName]protoreflect.MessageType{}}
	}
	onlyDescriptors = true
	resetTypes()
	t.Cleanup(func() {
		onlyDescriptors = false
		resetTypes()
	})
}
