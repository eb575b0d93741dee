package cli

import (
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/api/view"
)

// stack show names the network's subnet when the controller's pool gave
// it one, and only then.
func TestStackShowTextNamesSubnet(t *testing.T) {
	for _, c := range []struct {
		subnet, want string
	}{
		{"10.128.3.0/24", "Stack shop (id 3), network devarch-shop-net (subnet 10.128.3.0/24), enabled true\n"},
		{"", "Stack shop (id 3), network devarch-shop-net, enabled true\n"},
	} {
		var b strings.Builder
		if err := writeStackText(&b, view.Stack{ID: 3, Name: "shop", Network: "devarch-shop-net", Enabled: true, Subnet: c.subnet}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), c.want) {
			t.Errorf("subnet %q: text starts %q, want %q", c.subnet, b.String(), c.want)
		}
	}
}
