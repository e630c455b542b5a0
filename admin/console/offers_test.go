package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// TestOffersOnlyWhatCanSucceed: a deactivated account's page offers no Create key, and
// its keys no Rotate, Deactivate or Activate (only Revoke), and says why; the words are
// the CLI's and the API's (Deactivate, Activate), never Pause or Resume.
func TestOffersOnlyWhatCanSucceed(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn()
	_, k, err := e.svc.CreateServiceAccount(e.op, "acme", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := b.get("/console/w/acme/accounts/bot")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/keys/"+k.ID+"/rotate") ||
		!strings.Contains(body, ">Deactivate</button>") || !strings.Contains(body, ">Create key</button>") {
		t.Fatalf("an active account's page: %d lacks Rotate, Deactivate or Create key", resp.StatusCode)
	}
	if strings.Contains(body, ">Pause<") || strings.Contains(body, ">Resume<") {
		t.Error("the page says Pause or Resume")
	}
	if _, err := e.svc.DeactivateServiceAccount(e.op, "acme", "bot"); err != nil {
		t.Fatal(err)
	}
	resp, body = b.get("/console/w/acme/accounts/bot")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a deactivated account's page: %d", resp.StatusCode)
	}
	for _, offer := range []string{"/keys/" + k.ID + "/rotate", "/keys/" + k.ID + "/deactivate", "/keys/" + k.ID + "/activate", ">Create key</button>"} {
		if strings.Contains(body, offer) {
			t.Errorf("a deactivated account's page offers %s", offer)
		}
	}
	if !strings.Contains(body, "account deactivated") || !strings.Contains(body, "/keys/"+k.ID+"/revoke") {
		t.Error("a deactivated account's key does not say why it cannot pass, or cannot be revoked")
	}
}
