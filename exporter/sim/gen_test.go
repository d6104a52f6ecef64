package sim

import (
	"testing"
)

func TestGenerateSchoolWeekShape(t *testing.T) {
	s, err := Load("../scenarios/school-week.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Duration = s.Duration / 7
	res, err := Generate(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d hosts, %d records", len(res.Hosts), len(res.Records))
}

func TestShippedScenariosParse(t *testing.T) {
	want := map[string]int{"school-week": 300, "district-day": 5000, "hard-negatives": 236}
	for name, n := range want {
		s, err := Load("../scenarios/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		hosts, err := s.Hosts()
		if err != nil {
			t.Fatal(err)
		}
		if len(hosts) != n {
			t.Errorf("%s: %d hosts, want %d", name, len(hosts), n)
		}
	}
}
