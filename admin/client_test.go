package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sagate/sagate/admin"
	"github.com/sagate/sagate/admin/admintest"
	"github.com/sagate/sagate/keystore"
)

func TestClient(t *testing.T) {
	h := newHarness(t, admintest.Options{})
	ctx := context.Background()
	c := h.Client(t, admin.WithPageSize(1))
	apiErr := func(err error, status int, code string) {
		t.Helper()
		var ae *admin.APIError
		if !errors.As(err, &ae) || ae.Status != status || ae.Code != code || ae.Message == "" {
			t.Fatalf("want an APIError %d %s, got %#v", status, code, err)
		}
	}

	if _, err := c.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: "ml-team", MaxServiceAccounts: 5}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateWorkspace(ctx, admin.CreateWorkspaceRequest{Name: "ml-team"})
	apiErr(err, http.StatusConflict, string(keystore.KindNameTaken))
	if wss, err := c.AllWorkspaces(ctx); err != nil || len(wss) != 1 || wss[0].MaxServiceAccounts != 5 {
		t.Fatalf("AllWorkspaces: %+v %v", wss, err)
	}

	no := false
	for _, name := range []string{"a-bot", "b-bot"} {
		out, err := c.CreateServiceAccount(ctx, "ml-team", admin.CreateServiceAccountRequest{Name: name, CreateKey: &no})
		if err != nil || out.APIKey != nil {
			t.Fatalf("CreateServiceAccount %s: %+v %v", name, out, err)
		}
	}
	out, err := c.CreateServiceAccount(ctx, "ml-team", admin.CreateServiceAccountRequest{Name: "c-bot", AllProjectsRole: "viewer", KeyExpiresIn: "1d"})
	if err != nil || out.APIKey == nil || out.APIKey.ExpiresAt == nil {
		t.Fatalf("CreateServiceAccount: %+v %v", out, err)
	}
	h.keys = append(h.keys, out.APIKey.Key)
	h.LiveRecord(t, out.APIKey.Key)
	_, err = c.CreateServiceAccount(ctx, "ml-team", admin.CreateServiceAccountRequest{Name: "d-bot", KeyExpiresIn: "-1d"})
	apiErr(err, http.StatusBadRequest, admin.CodeInvalid)

	sas, err := c.AllServiceAccounts(ctx, "ml-team", keystore.AccountFilter{})
	if err != nil || len(sas) != 3 || sas[2].Name != "c-bot" {
		t.Fatalf("AllServiceAccounts (pages of 1): %+v %v", sas, err)
	}
	page, err := c.ListServiceAccounts(ctx, "ml-team", admin.ListOptions{PageSize: 2})
	if err != nil || len(page.Items) != 2 || page.NextPageToken == "" {
		t.Fatalf("ListServiceAccounts: %+v %v", page, err)
	}
	if sa, err := c.GetServiceAccount(ctx, "ml-team", out.ServiceAccount.ID); err != nil || sa.Name != "c-bot" {
		t.Fatalf("GetServiceAccount: %+v %v", sa, err)
	}
	_, err = c.GetServiceAccount(ctx, "ml-team", "nobody")
	apiErr(err, http.StatusNotFound, admin.CodeNotFound)
	desc := "new"
	if sa, err := c.UpdateServiceAccount(ctx, "ml-team", "c-bot", admin.UpdateServiceAccountRequest{Description: &desc}); err != nil || sa.Description != "new" {
		t.Fatalf("UpdateServiceAccount: %+v %v", sa, err)
	}

	k, err := c.CreateKey(ctx, "ml-team", "c-bot", admin.CreateKeyRequest{Name: "two"})
	if err != nil || k.Name != "two" {
		t.Fatalf("CreateKey: %+v %v", k, err)
	}
	h.keys = append(h.keys, k.Key)
	if ak, err := c.DeactivateKey(ctx, "ml-team", "c-bot", k.Last6); err != nil || ak.State != keystore.KeyDeactivated {
		t.Fatalf("DeactivateKey: %+v %v", ak, err)
	}
	if ak, err := c.ActivateKey(ctx, "ml-team", "c-bot", k.ID); err != nil || ak.State != keystore.KeyActive {
		t.Fatalf("ActivateKey: %+v %v", ak, err)
	}
	succ, err := c.RotateKey(ctx, "ml-team", "c-bot", k.ID, admin.RotateKeyRequest{Retain: "10m"})
	if err != nil || succ.Name != "two" {
		t.Fatalf("RotateKey: %+v %v", succ, err)
	}
	h.keys = append(h.keys, succ.Key)
	h.LiveRecord(t, k.Key)
	if err := c.RevokeKey(ctx, "ml-team", "c-bot", k.ID); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	h.AssertNotLive(t, k.Key)
	apiErr(c.RevokeKey(ctx, "ml-team", "c-bot", k.ID), http.StatusUnprocessableEntity, string(keystore.KindState))
	if keys, err := c.AllKeys(ctx, "ml-team", "c-bot"); err != nil || len(keys) != 3 {
		t.Fatalf("AllKeys: %+v %v", keys, err)
	}

	if g, err := c.SetGrant(ctx, "ml-team", "*", "a-bot", keystore.RoleOwner); err != nil || g.Project != "*" {
		t.Fatalf("SetGrant on *: %+v %v", g, err)
	}
	if g, err := c.SetGrant(ctx, "ml-team", "vision.v2", "c-bot", keystore.RoleContributor); err != nil || g.Role != keystore.RoleContributor {
		t.Fatalf("SetGrant: %+v %v", g, err)
	}
	_, err = c.SetGrant(ctx, "ml-team", "vision", "c-bot", "root")
	apiErr(err, http.StatusBadRequest, admin.CodeInvalid)
	if gs, err := c.AllGrants(ctx, "ml-team", "vision.v2"); err != nil || len(gs) != 3 {
		t.Fatalf("AllGrants: %+v %v", gs, err)
	}
	if err := c.RemoveGrant(ctx, "ml-team", "vision.v2", "c-bot"); err != nil {
		t.Fatalf("RemoveGrant: %v", err)
	}

	if sa, err := c.DeactivateServiceAccount(ctx, "ml-team", "c-bot"); err != nil || sa.State != keystore.AccountDeactivated {
		t.Fatalf("DeactivateServiceAccount: %+v %v", sa, err)
	}
	re, err := c.ReactivateServiceAccount(ctx, "ml-team", "c-bot")
	if err != nil || re.APIKey == nil {
		t.Fatalf("ReactivateServiceAccount: %+v %v", re, err)
	}
	h.keys = append(h.keys, re.APIKey.Key)
	ra, err := c.RevokeAllKeys(ctx, "ml-team", "c-bot")
	if err != nil || ra.Revoked != 1 || ra.Name != "c-bot" {
		t.Fatalf("RevokeAllKeys: %+v %v", ra, err)
	}
	if err := c.DeleteServiceAccount(ctx, "ml-team", "c-bot"); err != nil {
		t.Fatalf("DeleteServiceAccount: %v", err)
	}

	audit, err := c.ListAudit(ctx, keystore.AuditFilter{}, admin.ListOptions{PageSize: 3})
	if err != nil || len(audit.Items) != 3 || audit.Items[0].Actor != "operator:admin" || audit.NextPageToken == "" {
		t.Fatalf("ListAudit: %+v %v", audit, err)
	}

	bad, err := admin.NewClient(h.URL, "wrong-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.AllWorkspaces(ctx)
	apiErr(err, http.StatusUnauthorized, admin.CodeUnauthenticated)
	if err != nil && strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("the error shows the token: %v", err)
	}
}

func TestNewClientRejects(t *testing.T) {
	for _, c := range []struct{ url, token string }{
		{"ftp://host", "t"}, {"127.0.0.1:8081", "t"}, {"http://", "t"}, {"http://127.0.0.1:8081", ""},
	} {
		if _, err := admin.NewClient(c.url, c.token); err == nil {
			t.Errorf("NewClient(%q, %q) accepted", c.url, c.token)
		}
	}
}
