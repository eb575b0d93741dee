package lock_test

import (
	"errors"
	"math"
	"testing"

	"github.com/devarch/devarch-controller/lock"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name     string
		stackID  int64
		wantKey2 int32
		wantErr  error
	}{
		{name: "first id", stackID: 1, wantKey2: 1},
		{name: "int32 max", stackID: math.MaxInt32, wantKey2: math.MaxInt32},
		{name: "int32 max plus one wraps to int4 min", stackID: math.MaxInt32 + 1, wantKey2: math.MinInt32},
		{name: "uint32 max is -1 as int4", stackID: math.MaxUint32, wantKey2: -1},
		{name: "zero", stackID: 0, wantErr: lock.ErrStackIDOutOfRange},
		{name: "negative", stackID: -1, wantErr: lock.ErrStackIDOutOfRange},
		{name: "uint32 max plus one", stackID: math.MaxUint32 + 1, wantErr: lock.ErrStackIDOutOfRange},
		{name: "int64 max", stackID: math.MaxInt64, wantErr: lock.ErrStackIDOutOfRange},
		{name: "int64 min", stackID: math.MinInt64, wantErr: lock.ErrStackIDOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key1, key2, err := lock.Key(tt.stackID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Key(%d) error = %v, want %v", tt.stackID, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if key1 != lock.Namespace || key2 != tt.wantKey2 {
				t.Fatalf("Key(%d) = (%d, %d), want (%d, %d)", tt.stackID, key1, key2, lock.Namespace, tt.wantKey2)
			}
		})
	}
}

// FuzzKey checks the key scheme is one-to-one: every lockable id maps to
// (Namespace, k) where k read as pg_locks.objid (unsigned) is the id again,
// and every other id is refused.
func FuzzKey(f *testing.F) {
	for _, id := range []int64{1, 2, math.MaxInt32, math.MaxInt32 + 1, math.MaxUint32, math.MaxUint32 + 1, 0, -1, math.MinInt64, math.MaxInt64} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id int64) {
		key1, key2, err := lock.Key(id)
		inRange := id >= 1 && id <= lock.MaxStackID
		if !inRange {
			if !errors.Is(err, lock.ErrStackIDOutOfRange) {
				t.Fatalf("Key(%d) error = %v, want ErrStackIDOutOfRange", id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Key(%d): %v", id, err)
		}
		if key1 != lock.Namespace {
			t.Fatalf("Key(%d) key1 = %d, want Namespace", id, key1)
		}
		if objid := int64(uint32(key2)); objid != id {
			t.Fatalf("Key(%d) key2 = %d shows as objid %d", id, key2, objid)
		}
	})
}

func TestHeldError(t *testing.T) {
	tests := []struct {
		name string
		err  *lock.HeldError
		want string
	}{
		{name: "with holder", err: &lock.HeldError{StackID: 7, HolderPID: 4242}, want: "lock stack 7: stack lock held by another session (backend pid 4242)"},
		{name: "holder gone", err: &lock.HeldError{StackID: 7}, want: "lock stack 7: stack lock held by another session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, lock.ErrHeld) {
				t.Error("errors.Is(HeldError, ErrHeld) = false")
			}
			if errors.Is(tt.err, lock.ErrLost) {
				t.Error("errors.Is(HeldError, ErrLost) = true")
			}
		})
	}
}
