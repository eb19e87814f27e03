package rtp

// Limits of the dependency descriptor (AV1 RTP spec, Appendix A.4.1). The
// syntax caps decode targets (a 5-bit count), templates (6-bit ids) and
// chains (at most one per decode target); MAX_SPATIAL_ID and
// MAX_TEMPORAL_ID cap the layers. The syntax does not cap the frame diffs
// of a template or a frame: Prism keeps MaxDDFdiffs, more than AV1's seven
// references need, and rejects a descriptor with more.
const (
	MaxDDDecodeTargets  = 32                 // dtis_cnt_minus_one is 5 bits
	MaxDDTemplates      = 64                 // MAX_TEMPLATE_ID 63
	MaxDDChains         = MaxDDDecodeTargets // chains_cnt is ns(DtisCnt + 1)
	MaxDDSpatialLayers  = 4                  // MAX_SPATIAL_ID 3
	MaxDDTemporalLayers = 8                  // MAX_TEMPORAL_ID 7
	MaxDDFdiffs         = 16                 // Prism's own limit
)

// DTI is a decode target indication: how a frame relates to one decode
// target (Appendix A, table A.1).
type DTI uint8

// The decode target indications.
const (
	// DTINotPresent: the frame is not part of the decode target.
	DTINotPresent DTI = iota
	// DTIDiscardable: part of it, and no later frame of it refers to it.
	DTIDiscardable
	// DTISwitch: part of it, and a receiver can switch to the decode
	// target here: every later frame of it is decodable if this one is.
	DTISwitch
	// DTIRequired: part of it, neither discardable nor a switch point.
	DTIRequired
)

// DTIs holds a frame's or a template's indication for each decode target,
// two bits each: decode target i in bits 2i and 2i+1. Its zero value says
// DTINotPresent for every one.
type DTIs uint64

// At returns the indication for decode target i; DTINotPresent when i is
// out of range.
func (t DTIs) At(i int) DTI { return DTI(t >> (2 * uint(i)) & 3) }

// Set makes v the indication for decode target i; it does nothing when i
// is out of range.
func (t *DTIs) Set(i int, v DTI) {
	shift := 2 * uint(i)
	*t = *t&^(3<<shift) | DTIs(v&3)<<shift
}

// DDTemplate is one frame dependency template: what the frames that name
// it have in common.
type DDTemplate struct {
	Spatial, Temporal uint8
	DTIs              DTIs
	// Fdiffs[:NumFdiffs] are the frames it refers to, as differences of
	// frame numbers (1..16).
	NumFdiffs uint8
	Fdiffs    [MaxDDFdiffs]uint8
	// ChainDiffs[c] is the difference from the frame number to the previous
	// frame of chain c (0..15), for the structure's NumChains chains.
	ChainDiffs [MaxDDChains]uint8
}

// DDResolution is the largest picture frames of one spatial layer render.
type DDResolution struct{ Width, Height uint32 }

// DDStructure is a template dependency structure: the templates, decode
// targets and chains a packet of a keyframe attaches and later packets
// refer to.
//
// A DDStructure holds no pointers or slices, so assigning one copies it
// whole (a few kilobytes) and nothing is allocated: a stream keeps its
// latest structure as a value and replaces it only from a packet that
// attaches one (latest = *d.Structure).
type DDStructure struct {
	// TemplateIDOffset is the template id of Templates[0]; ids count on
	// modulo 64.
	TemplateIDOffset uint8
	// NumDecodeTargets is the number of decode targets, 1..32.
	NumDecodeTargets uint8
	// NumTemplates is the number of templates, 1..64. Their layers rise in
	// the order the syntax can express: Templates[0] is spatial 0 temporal
	// 0, and each next one has the same layers, the next temporal layer,
	// or the next spatial layer at temporal 0.
	NumTemplates uint8
	Templates    [MaxDDTemplates]DDTemplate
	// NumChains is the number of chains, 0..NumDecodeTargets.
	NumChains uint8
	// ProtectedBy[i] is the chain that protects decode target i, when
	// there are chains.
	ProtectedBy [MaxDDDecodeTargets]uint8
	// Resolutions[s] is the render size of spatial layer s, for every layer
	// up to the last template's, when HasResolutions.
	HasResolutions bool
	Resolutions    [MaxDDSpatialLayers]DDResolution
}

// AllDecodeTargets returns the mask with a bit for each decode target of
// s: the active decode targets a structure starts with.
func (s *DDStructure) AllDecodeTargets() uint32 {
	return uint32(uint64(1)<<min(s.NumDecodeTargets, MaxDDDecodeTargets) - 1)
}

// lookup returns the template a frame_dependency_template_id names. The
// error wraps ErrDDNoStructure when s has no template by that id, and
// ErrDDMalformed when the counts of s or of the template do not fit
// their arrays (a caller's hand-built structure; a parsed one always
// does).
func (s *DDStructure) lookup(id uint8) (*DDTemplate, error) {
	if !s.inRange() {
		return nil, errDDBadStructure
	}
	i := (uint(id) + MaxDDTemplates - uint(s.TemplateIDOffset)) % MaxDDTemplates
	if i >= uint(s.NumTemplates) {
		return nil, errDDUnknownTemplate
	}
	t := &s.Templates[i]
	if t.NumFdiffs > MaxDDFdiffs || t.Spatial >= MaxDDSpatialLayers {
		return nil, errDDBadStructure
	}
	return t, nil
}

// inRange reports whether the counts of s fit its arrays.
func (s *DDStructure) inRange() bool {
	return s.NumDecodeTargets >= 1 && s.NumDecodeTargets <= MaxDDDecodeTargets &&
		s.NumTemplates >= 1 && s.NumTemplates <= MaxDDTemplates &&
		s.NumChains <= s.NumDecodeTargets
}

// maxSpatial returns the highest spatial id of the templates.
func (s *DDStructure) maxSpatial() uint8 { return s.Templates[s.NumTemplates-1].Spatial }

// read decodes template_dependency_structure() into s.
func (s *DDStructure) read(r *bitReader) error {
	*s = DDStructure{}
	s.TemplateIDOffset = uint8(r.read(6))
	s.NumDecodeTargets = uint8(r.read(5)) + 1
	if err := s.readLayers(r); err != nil {
		return err
	}
	for i := range s.NumTemplates {
		s.Templates[i].DTIs = readDTIs(r, int(s.NumDecodeTargets))
	}
	if err := s.readFdiffs(r); err != nil {
		return err
	}
	s.readChains(r)
	s.readResolutions(r)
	if r.short {
		return errDDTruncated
	}
	return nil
}

// readLayers decodes template_layers(): the layers of each template.
func (s *DDStructure) readLayers(r *bitReader) error {
	var spatial, temporal uint8
	for {
		if s.NumTemplates == MaxDDTemplates {
			return errDDTemplates
		}
		t := &s.Templates[s.NumTemplates]
		t.Spatial, t.Temporal = spatial, temporal
		s.NumTemplates++
		switch r.read(2) { // next_layer_idc
		case 1:
			temporal++
		case 2:
			spatial, temporal = spatial+1, 0
		case 3:
			return nil
		}
		if r.short {
			return errDDTruncated
		}
		if spatial >= MaxDDSpatialLayers || temporal >= MaxDDTemporalLayers {
			return errDDLayers
		}
	}
}

// readDTIs decodes n two-bit indications (template_dtis, frame_dtis).
func readDTIs(r *bitReader, n int) DTIs {
	var t DTIs
	for i := range n {
		t.Set(i, DTI(r.read(2)))
	}
	return t
}

// readFdiffs decodes template_fdiffs().
func (s *DDStructure) readFdiffs(r *bitReader) error {
	for i := range s.NumTemplates {
		t := &s.Templates[i]
		for r.flag() { // fdiff_follows_flag
			if t.NumFdiffs == MaxDDFdiffs {
				return errDDFdiffs
			}
			t.Fdiffs[t.NumFdiffs] = uint8(r.read(4)) + 1
			t.NumFdiffs++
		}
	}
	return nil
}

// readChains decodes template_chains(). The decode targets' chains are
// ns(chains_cnt), as the spec has it since v0.5 and as libwebrtc writes
// them; earlier drafts had ns(chains_cnt + 1).
func (s *DDStructure) readChains(r *bitReader) {
	s.NumChains = uint8(r.ns(uint32(s.NumDecodeTargets) + 1))
	if s.NumChains == 0 {
		return
	}
	for i := range s.NumDecodeTargets {
		s.ProtectedBy[i] = uint8(r.ns(uint32(s.NumChains)))
	}
	for i := range s.NumTemplates {
		for c := range s.NumChains {
			s.Templates[i].ChainDiffs[c] = uint8(r.read(4))
		}
	}
}

// readResolutions decodes the resolutions flag and render_resolutions().
func (s *DDStructure) readResolutions(r *bitReader) {
	s.HasResolutions = r.flag()
	if !s.HasResolutions {
		return
	}
	for sp := range s.maxSpatial() + 1 {
		s.Resolutions[sp].Width = r.read(16) + 1
		s.Resolutions[sp].Height = r.read(16) + 1
	}
}
