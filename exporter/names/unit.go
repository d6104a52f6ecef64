package names

import "regexp"

// UnitIDPattern is the syntax of a unit id: lowercase ASCII letters and
// digits, then also '.', '_' and '-'. Ids become metric labels, Alertmanager
// receiver names and parts of queries, so nothing else is let in (no quote,
// brace, space or regex metacharacter beyond the escaped '.').
const UnitIDPattern = `^[a-z0-9][a-z0-9._-]*$`

// UnitIDRule says UnitIDPattern in words, for error messages.
const UnitIDRule = "a unit id may use only a-z, 0-9, '-', '_' and '.', starting with a letter or digit (单位编号只能用小写字母、数字和 - _ .，以字母或数字开头)"

var unitID = regexp.MustCompile(UnitIDPattern)

// ValidUnitID reports whether id may be a unit id. Unassigned is valid
// syntax but reserved: the ledger refuses it as the id of a unit.
func ValidUnitID(id string) bool { return unitID.MatchString(id) }
