package lock

import (
	"errors"
	"fmt"
	"math"
)

// Namespace is the first key of every devarch stack lock, taken in
// PostgreSQL's two-key advisory form pg_try_advisory_lock(int4, int4).
//
// devarch two-key namespaces are 0x6476_NNNN: the high half is "dv" in ASCII
// and the low half numbers the subsystem. 0x6476_0001 is the stack apply lock;
// a later devarch subsystem takes the next free number (listed in
// docs/locking.md), so the namespaces of two subsystems never overlap.
//
// Two-key locks cannot collide with one-key (bigint) locks such as goose's
// migration lock, whatever their values: pg_locks shows two-key locks with
// objsubid = 2 and one-key locks with objsubid = 1, and objsubid is part of
// the lock's identity.
const Namespace int32 = 0x6476_0001

// MaxStackID is the largest stack id that can be locked: the second key is
// the id's low 32 bits, and pg_locks.objid (an unsigned 32-bit oid) shows the
// stack id itself for every id in [1, MaxStackID].
const MaxStackID int64 = math.MaxUint32

// ErrStackIDOutOfRange reports a stack id outside [1, MaxStackID]. Stack ids
// come from a bigserial starting at 1, so reaching it takes over four billion
// stacks; an id of zero or below is an unsaved or corrupt stack.
var ErrStackIDOutOfRange = errors.New("stack id out of lockable range")

// Key returns the two advisory lock keys of a stack: Namespace and the stack
// id's 32 bits reinterpreted as int4. The mapping is one-to-one on
// [1, MaxStackID]: ids up to 2^31-1 keep their value, larger ones appear as
// negative int4 in SQL calls but as the stack id in pg_locks.objid.
func Key(stackID int64) (key1, key2 int32, err error) {
	if stackID < 1 || stackID > MaxStackID {
		return 0, 0, fmt.Errorf("%w: %d is not in [1, %d]", ErrStackIDOutOfRange, stackID, MaxStackID)
	}
	return Namespace, int32(uint32(stackID)), nil
}
