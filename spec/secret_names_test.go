package spec

import "testing"

// FuzzIsSecretName: the allocation-free check of ASCII names agrees with
// splitting and upper-casing the name, for any name.
func FuzzIsSecretName(f *testing.F) {
	for _, s := range []string{"", "DB_PASSWORD", "db-password", "api.key", "KEYCLOAK_ADMIN", "MSSQL_SA_PASSWORD", "__TOKEN__",
		"credentials", "CREDENTIALSX", "paſſword", "prıvate_key", "\u212aEY", "SECRET\xff", "a..b--c__salt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := IsSecretName(name), isSecretNameSplit(name); got != want {
			t.Fatalf("IsSecretName(%q) = %v, splitting says %v", name, got, want)
		}
	})
}

func TestIsSecretNameASCII(t *testing.T) {
	for name, want := range map[string]bool{
		"DB_PASSWORD": true, "db_password": true, "API-Key": true, "app.secret.value": true, "POSTGRES_USER": false,
		"KEYCLOAK_ADMIN": false, "PASSWORDS": false, "": false, "_": false, "TOKEN_": true, "CREDENTIALS": true, "XCREDENTIALS": false,
	} {
		if got := IsSecretName(name); got != want || isSecretNameSplit(name) != want {
			t.Errorf("IsSecretName(%q) = %v, split %v, want %v", name, got, isSecretNameSplit(name), want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { IsSecretName("MSSQL_SA_PASSWORD") }); n != 0 {
		t.Errorf("IsSecretName allocates %v times per ASCII name", n)
	}
}
