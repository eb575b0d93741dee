package deploy

import (
	"errors"
	"fmt"
	"strings"
)

// AddressPoolError says that the engine could not give a new network a
// subnet: every subnet of its default-address-pools is taken (Docker's
// defaults hold about 30 bridge networks). Retrying does not help; the
// engine's pools must grow, or networks must be removed.
type AddressPoolError struct {
	Network string
	// Err is the engine's error.
	Err error
}

func (e *AddressPoolError) Error() string {
	return fmt.Sprintf("create network %q: the Docker engine has no free subnet for a new network: every subnet of its default address pools is in use "+
		"(Docker's defaults hold about 30 bridge networks, one per stack). "+
		`Enlarge the pools in the engine's daemon.json (usually /etc/docker/daemon.json), e.g. `+
		`{"default-address-pools": [{"base": "10.128.0.0/9", "size": 24}]} for 32768 networks of 254 addresses, `+
		"and restart the engine (existing networks keep their subnets); or remove networks you no longer use (`docker network prune`). Engine error: %v",
		e.Network, e.Err)
}

func (e *AddressPoolError) Unwrap() error { return e.Err }

// addressPoolMessages are the engine's words for exhausted address pools
// (libnetwork's ipamapi.ErrNoAvailablePool and its older wording).
var addressPoolMessages = [...]string{
	"could not find an available, non-overlapping ipv4 address pool",
	"could not find an available, non-overlapping ipv6 address pool",
	"all predefined address pools have been fully subnetted",
}

// IsAddressPoolExhausted reports whether err is the engine's refusal to
// create a network because its address pools are used up.
func IsAddressPoolExhausted(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*AddressPoolError](err); ok {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range addressPoolMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// networkCreateError explains an engine's network create error when it
// means the address pools are exhausted, and wraps it plainly otherwise.
func networkCreateError(name string, err error) error {
	if IsAddressPoolExhausted(err) {
		return &AddressPoolError{Network: name, Err: err}
	}
	return fmt.Errorf("create network %q: %w", name, err)
}
