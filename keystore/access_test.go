package keystore

import "testing"

// TestAccessRulesCopy: the table handed out is a copy; changing it changes no rule.
func TestAccessRulesCopy(t *testing.T) {
	rules := AccessRules()
	if rules["workspace.create"].Level != LevelOperator || rules["whoami"].Level != LevelAnyone {
		t.Fatalf("AccessRules = %v", rules)
	}
	rules["workspace.create"] = AccessRule{Level: LevelAnyone}
	if accessRules["workspace.create"].Level != LevelOperator {
		t.Fatal("changing the copy changed the rule")
	}
	for action, r := range accessRules {
		if r.Level < LevelAnyone || r.Level > LevelOperator || r.Level.String() == "" {
			t.Errorf("%s: level %d", action, r.Level)
		}
	}
}
