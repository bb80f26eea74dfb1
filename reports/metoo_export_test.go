package reports

import "context"

// SealMeTooRef seals a ref for any report and rider, as Nearby would for
// a report it lists: tests need refs Nearby never gives (one's own report).
func SealMeTooRef(ctx context.Context, s *Service, reportID, riderID string) (string, error) {
	aead, err := s.meTooAEAD(ctx)
	if err != nil {
		return "", err
	}
	return sealRef(aead, reportID, riderID, s.now().Add(MeTooRefTTL)), nil
}

// OpenMeTooRef opens a ref as MeToo does: the report id, for the rider it
// was sealed for.
func OpenMeTooRef(ctx context.Context, s *Service, riderID, ref string) (string, error) {
	return s.openRef(ctx, riderID, ref)
}
