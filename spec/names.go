package spec

import "strconv"

// Labels that tie a container to its stack and instance. Ids, not names, are
// the identity: renaming a stack or instance does not orphan its containers.
const (
	LabelManagedBy    = "devarch.managed_by"
	LabelStackID      = "devarch.stack_id"
	LabelStack        = "devarch.stack"
	LabelInstanceID   = "devarch.instance_id"
	LabelInstance     = "devarch.instance"
	LabelTemplate     = "devarch.template"
	LabelConfigDigest = "devarch.config_digest"
	LabelSpec         = "devarch.spec"

	// ManagedByValue is the value of LabelManagedBy on every container,
	// network and volume the controller creates.
	ManagedByValue = "devarch"

	// LabelPrefix starts every label the controller owns; users may not set
	// labels with it.
	LabelPrefix = "devarch."
)

// ProjectName is the compose project of a stack.
func ProjectName(stack string) string { return "devarch-" + stack }

// ContainerName is the name of an instance's container.
func ContainerName(stack, instance string) string { return "devarch-" + stack + "-" + instance }

// IdentityLabels are the devarch labels of an instance's container.
func IdentityLabels(s Stack, inst Instance) map[string]string {
	return map[string]string{
		LabelManagedBy:  ManagedByValue,
		LabelStackID:    strconv.FormatInt(s.ID, 10),
		LabelStack:      s.Name,
		LabelInstanceID: strconv.FormatInt(inst.ID, 10),
		LabelInstance:   inst.Name,
	}
}
