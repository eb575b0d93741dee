package e2e

import (
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/plan"
)

// TestPlanShowsManagedSubnet: the stack's network with a controller-managed
// subnet is listed with its action and subnets; a network to recreate
// makes the plan one to apply even without container changes.
func TestPlanShowsManagedSubnet(t *testing.T) {
	_, d := openFake(t, func(f *fakeAPI) {
		f.update("blog", func(s *fakeStack) {
			s.resources = []plan.Resource{{Kind: plan.ResourceNetwork, Name: "devarch-blog-net", Action: plan.ResourceRecreate,
				Subnet: "10.128.3.0/24", PreviousSubnet: "172.18.0.0/16",
				Reason: "the network has subnet 172.18.0.0/16, the controller allocated 10.128.3.0/24 to the stack: apply removes and recreates it"}}
		})
	})
	d.openStack("blog", "deploy")
	p := d.generatePlan()
	if p.Empty != "" || !p.ApplyVisible {
		t.Errorf("a plan recreating the network: %+v, want one to apply", p)
	}
	lines := eval[[]string](d, `[...document.querySelectorAll('#panel-deploy .resource')].map((r) => r.dataset.action + ' | ' + r.textContent)`)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "recreate | ") ||
		!strings.Contains(lines[0], "network devarch-blog-net recreate subnet 172.18.0.0/16 → 10.128.3.0/24") {
		t.Errorf("resource lines %q, want the network recreated with its subnets", lines)
	}
}
