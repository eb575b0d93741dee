package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestComposeTab: the Compose tab shows the compose file the controller
// applies, names the secret references and shows no secret value; the
// stack file view of a stack the format cannot express shows why, naming
// the field.
func TestComposeTab(t *testing.T) {
	_, d := openFake(t, nil)
	d.openStack("shop", "compose")
	d.waitFor("the compose file", `(document.querySelector('#panel-compose .export-content')?.textContent || '').includes('services:')`, 5*time.Second)
	content := eval[string](d, `document.querySelector('#panel-compose .export-content').textContent`)
	for _, want := range []string{"name: devarch-shop", "container_name: devarch-shop-db", "APP_KEY: ${DB_APP_KEY}", "POSTGRES_PASSWORD: ${DB_POSTGRES_PASSWORD}", "auth-token: ${DB_LOGGING_OPTIONS_AUTH_TOKEN}"} {
		if !strings.Contains(content, want) {
			t.Errorf("the compose file lacks %q:\n%s", want, content)
		}
	}
	if got := eval[string](d, `document.querySelector('#panel-compose .export-secrets').textContent`); !strings.Contains(got, "DB_APP_KEY") {
		t.Errorf("the secret references are not named: %q", got)
	}
	if got := eval[string](d, `document.querySelector('#panel-compose a[download]').getAttribute('download')`); got != "compose.yml" {
		t.Errorf("download name = %q", got)
	}
	d.screenshot("compose.png")

	d.click(`#panel-compose button[data-format="devarch"]`)
	d.waitFor("the stack file's refusal", `!!document.querySelector('#panel-compose .notice-error')`, 5*time.Second)
	msg := eval[string](d, `document.querySelector('#panel-compose .notice-error').textContent`)
	if !strings.Contains(msg, "instances.db.logging.options.auth-token") {
		t.Errorf("the refusal does not name the field: %q", msg)
	}
	if eval[bool](d, `!document.querySelector('#panel-compose a[download]').hidden`) {
		t.Error("the download link stays after a refusal")
	}
	text := d.bodyText()
	for _, secret := range []string{secretTemplatePassword, secretAppKey, secretLogToken} {
		if strings.Contains(text, secret) || strings.Contains(content, secret) {
			t.Errorf("the Compose tab shows the secret %q", secret)
		}
	}
}
