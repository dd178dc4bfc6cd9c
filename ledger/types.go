package ledger

import "strings"

// AccountID is KIND:NAME, e.g. resident:v1024 or issuer:HOURS. See ParseAccountID.
type AccountID string

// Kind is the part of an AccountID before the colon.
type Kind string

// The account kinds of SPEC §2.
const (
	KindResident Kind = "resident"
	KindStation  Kind = "station"
	KindOutlet   Kind = "outlet"
	KindPool     Kind = "pool"
	KindIssuer   Kind = "issuer"
)

// Kind returns the kind part of id, or "" when id has no colon.
func (id AccountID) Kind() Kind {
	k, _, ok := strings.Cut(string(id), ":")
	if !ok {
		return ""
	}
	return Kind(k)
}

// The assets every ledger has; their scales come from the genesis policy.
const (
	AssetHours  = "HOURS"
	AssetPoints = "POINTS"
)

// IssuerOf returns the issuer account of asset.
func IssuerOf(asset string) AccountID {
	switch asset {
	case AssetHours:
		return issuerHours
	case AssetPoints:
		return issuerPoints
	}
	return AccountID("issuer:" + asset)
}

const (
	issuerHours  AccountID = "issuer:" + AssetHours
	issuerPoints AccountID = "issuer:" + AssetPoints
)

// Type is an entry type of SPEC §2.
type Type string

// The entry types.
const (
	TypeGenesis    Type = "genesis"
	TypeOpen       Type = "open"
	TypeFreeze     Type = "freeze"
	TypeUnfreeze   Type = "unfreeze"
	TypeLink       Type = "link"
	TypeCredit     Type = "credit"
	TypeRedemption Type = "redemption"
	TypeHold       Type = "hold"
	TypeSettle     Type = "settle"
	TypeVoid       Type = "void"
	TypeTransfer   Type = "transfer"
	TypeDonation   Type = "donation"
	TypeGrant      Type = "grant"
	TypeConversion Type = "conversion"
	TypeReversal   Type = "reversal"
	TypePolicy     Type = "policy"
)

// Posting moves a positive Amount (minor units of Asset) from one account to another.
type Posting struct {
	From   AccountID
	To     AccountID
	Asset  string
	Amount int64
}

// Entry is one accepted write: the unit of the log. Entries are never changed; Body is the
// request as accepted, normalised (amounts at scale, times in UTC, defaults filled in).
type Entry struct {
	Seq            uint64
	TimeMicros     int64 // UTC microseconds since the Unix epoch, strictly increasing with Seq
	Type           Type
	Actor          string // Principal.Actor() of the submitter; "system" for genesis
	IdempotencyKey string
	Body           Body
	Postings       []Posting
}

// Role is what a principal may do (SPEC §2).
type Role string

// The roles.
const (
	RoleAdmin    Role = "admin"
	RoleStation  Role = "station"
	RoleOutlet   Role = "outlet"
	RoleResident Role = "resident"
	RoleAuditor  Role = "auditor"
	RoleSystem   Role = "system" // genesis only; no token has it
)

// Principal is who submits a request, as the token says. Account is set for station, outlet
// and resident roles and is the acting account: it never comes from a request body.
type Principal struct {
	Role    Role
	Account AccountID
	TokenID string
}

// GenesisKey is the Idempotency-Key of the genesis entry, the only one the ledger writes.
const GenesisKey = "genesis"

// Actor is the principal's name in the log and the scope of its idempotency keys: the bound
// account for station, outlet and resident; "admin:TOKENID" for an admin; "system" for genesis.
func (p Principal) Actor() string {
	switch p.Role {
	case RoleAdmin:
		return "admin:" + p.TokenID
	case RoleSystem:
		return "system"
	case RoleAuditor:
		return "auditor:" + p.TokenID
	}
	return string(p.Account)
}

// ParseActor is the inverse of Principal.Actor, used when replaying the log.
func ParseActor(actor string) (Principal, bool) {
	if actor == "system" {
		return Principal{Role: RoleSystem}, true
	}
	k, rest, ok := strings.Cut(actor, ":")
	if !ok || rest == "" {
		return Principal{}, false
	}
	switch Role(k) {
	case RoleAdmin:
		if !validTokenID(rest) {
			return Principal{}, false
		}
		return Principal{Role: RoleAdmin, TokenID: rest}, true
	case RoleStation, RoleOutlet, RoleResident:
		return Principal{Role: Role(k), Account: AccountID(actor)}, true
	}
	return Principal{}, false
}

// maxTokenIDBytes bounds a token id (the ledger makes TokenIDPrefix and 16 hex digits).
const maxTokenIDBytes = 64

// validTokenID reports whether id has the shape of a token id: TokenIDPrefix, then lower-case
// letters, digits and underscores, at most maxTokenIDBytes in all. An admin entry names its
// token in its actor; one of another shape was written by no server, and nothing else would
// bound its length (replay holds hundreds of entries in flight).
func validTokenID(id string) bool {
	rest, ok := strings.CutPrefix(id, TokenIDPrefix)
	if !ok || rest == "" || len(id) > maxTokenIDBytes {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Request is a write as the ledger receives it: who, under which key, and the typed body.
type Request struct {
	Principal      Principal
	IdempotencyKey string
	Body           Body
}

// Body is the typed body of a request or entry. Each entry type has one body type; the field
// order of each struct is its canonical JSON order (docs/FORMAT.md).
type Body interface {
	EntryType() Type
}

// OpenBody opens an account (POST /v1/accounts).
type OpenBody struct {
	ID AccountID `json:"id"`
}

// FreezeBody freezes or unfreezes an account; Account comes from the URL path.
type FreezeBody struct {
	Account  AccountID `json:"account"`
	Reason   string    `json:"reason"`
	Unfreeze bool      `json:"-"`
}

// LinkBody links two residents as family.
type LinkBody struct {
	A        AccountID `json:"a"`
	B        AccountID `json:"b"`
	Relation string    `json:"relation"`
}

// Activity describes the service session a credit pays for. Times are RFC 3339; normalised
// to UTC with microseconds.
type Activity struct {
	ID        string `json:"id"`
	Category  string `json:"category"`
	StartedAt string `json:"started_at"`
	EndedAt   string `json:"ended_at"`
}

// CreditBody credits service hours. Station is the crediting station: from the token for a
// station, named in the body by an admin.
type CreditBody struct {
	Station   AccountID `json:"station"`
	Volunteer AccountID `json:"volunteer"`
	Hours     string    `json:"hours"`
	Activity  Activity  `json:"activity"`
	Memo      string    `json:"memo"`
}

// RedemptionBody pays a station or outlet from the acting resident.
type RedemptionBody struct {
	Payee  AccountID `json:"payee"`
	Asset  string    `json:"asset"`
	Amount string    `json:"amount"`
	Memo   string    `json:"memo"`
}

// HoldBody reserves an amount for a payee. TTLSeconds 0 means the policy default.
type HoldBody struct {
	Payee      AccountID `json:"payee"`
	Asset      string    `json:"asset"`
	Amount     string    `json:"amount"`
	TTLSeconds int64     `json:"ttl_seconds"`
}

// SettleBody settles an open hold; HoldID comes from the URL path.
type SettleBody struct {
	HoldID uint64 `json:"hold_id"`
	Amount string `json:"amount"`
}

// VoidBody releases an open hold; HoldID comes from the URL path.
type VoidBody struct {
	HoldID uint64 `json:"hold_id"`
}

// TransferBody moves an amount from the acting resident to another resident.
type TransferBody struct {
	To     AccountID `json:"to"`
	Asset  string    `json:"asset"`
	Amount string    `json:"amount"`
	Memo   string    `json:"memo"`
}

// DonationBody gives an amount from the acting resident to a pool.
type DonationBody struct {
	Pool   AccountID `json:"pool"`
	Asset  string    `json:"asset"`
	Amount string    `json:"amount"`
}

// GrantBody pays a resident from a pool (admin).
type GrantBody struct {
	Pool   AccountID `json:"pool"`
	To     AccountID `json:"to"`
	Asset  string    `json:"asset"`
	Amount string    `json:"amount"`
	Memo   string    `json:"memo"`
}

// ConversionBody converts the acting resident's hours into points.
type ConversionBody struct {
	Hours string `json:"hours"`
}

// ReversalBody mirrors the postings of entry Seq.
type ReversalBody struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// PolicyBody replaces the policy (PUT /v1/policy); GenesisBody carries the first one.
type PolicyBody struct{ Policy }

// GenesisBody is the body of entry 1.
type GenesisBody struct{ Policy }

func (*OpenBody) EntryType() Type       { return TypeOpen }
func (*LinkBody) EntryType() Type       { return TypeLink }
func (*CreditBody) EntryType() Type     { return TypeCredit }
func (*RedemptionBody) EntryType() Type { return TypeRedemption }
func (*HoldBody) EntryType() Type       { return TypeHold }
func (*SettleBody) EntryType() Type     { return TypeSettle }
func (*VoidBody) EntryType() Type       { return TypeVoid }
func (*TransferBody) EntryType() Type   { return TypeTransfer }
func (*DonationBody) EntryType() Type   { return TypeDonation }
func (*GrantBody) EntryType() Type      { return TypeGrant }
func (*ConversionBody) EntryType() Type { return TypeConversion }
func (*ReversalBody) EntryType() Type   { return TypeReversal }
func (*PolicyBody) EntryType() Type     { return TypePolicy }
func (*GenesisBody) EntryType() Type    { return TypeGenesis }

// EntryType is freeze or unfreeze, as Unfreeze says.
func (b *FreezeBody) EntryType() Type {
	if b.Unfreeze {
		return TypeUnfreeze
	}
	return TypeFreeze
}
