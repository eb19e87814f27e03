package rtp

import (
	"errors"
	"fmt"
)

// DependencyDescriptorURI is the extmap URI of the dependency descriptor
// header extension (AV1 RTP spec, Appendix A.5).
const DependencyDescriptorURI = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"

// ddMandatorySize is the length of a descriptor with the mandatory fields
// only; a longer one carries the extended fields.
const ddMandatorySize = 3

// Errors of ParseDependencyDescriptor. Each error it returns wraps one of
// them.
var (
	// ErrDDMalformed: the descriptor is truncated or breaks the syntax or
	// Prism's limits.
	ErrDDMalformed = errors.New("malformed dependency descriptor")
	// ErrDDNoStructure: the descriptor refers to a template dependency
	// structure Prism does not have: none was given, or its template id is
	// not in the one given (the packet that attached a new structure was
	// lost or is late). A keyframe brings one.
	ErrDDNoStructure = errors.New("dependency descriptor without a known structure")
)

// The errors in detail, made once so that a stream of bad packets costs
// no allocation.
var (
	errDDTruncated       = fmt.Errorf("%w: truncated", ErrDDMalformed)
	errDDTemplates       = fmt.Errorf("%w: more than %d templates", ErrDDMalformed, MaxDDTemplates)
	errDDLayers          = fmt.Errorf("%w: layer id above the maximum", ErrDDMalformed)
	errDDFdiffs          = fmt.Errorf("%w: more than %d frame diffs", ErrDDMalformed, MaxDDFdiffs)
	errDDBadStructure    = fmt.Errorf("%w: structure counts out of range", ErrDDMalformed)
	errDDMissing         = fmt.Errorf("%w: none attached or given", ErrDDNoStructure)
	errDDUnknownTemplate = fmt.Errorf("%w: template id not in the structure", ErrDDNoStructure)
)

// DependencyDescriptor is one parsed dependency descriptor header extension
// value: the fields the packet carries, and its frame's layers, decode
// target indications, frame diffs and chain diffs resolved from the
// template it names and the custom values it carries instead.
type DependencyDescriptor struct {
	// Mandatory fields.
	StartOfFrame bool
	EndOfFrame   bool
	TemplateID   uint8 // frame_dependency_template_id, 0..63
	FrameNumber  uint16

	// Extended fields; all false in a 3-byte descriptor.
	//
	// HasStructure says the packet attaches a template dependency
	// structure, in Structure.
	HasStructure bool
	// HasActiveDecodeTargets says the packet carries ActiveDecodeTargets.
	HasActiveDecodeTargets bool
	// ActiveDecodeTargets has bit i set when decode target i is active. It
	// holds from this packet on; when the packet attaches a structure
	// without a mask, it is all the structure's decode targets. It is 0
	// when the packet says nothing: the mask last said still holds.
	ActiveDecodeTargets uint32
	// Custom* say the packet carries its frame's DTIs, Fdiffs or
	// ChainDiffs instead of taking the template's.
	CustomDTIs   bool
	CustomFdiffs bool
	CustomChains bool

	// The frame, resolved.
	Spatial, Temporal uint8
	// NumDecodeTargets and NumChains are the structure's counts.
	NumDecodeTargets uint8
	NumChains        uint8
	DTIs             DTIs
	// Fdiffs[:NumFdiffs] are the frames it refers to, as differences of
	// frame numbers (1..4096 when custom).
	NumFdiffs uint8
	Fdiffs    [MaxDDFdiffs]uint16
	// ChainDiffs[:NumChains] are the differences from its frame number to
	// the previous frame of each chain; 0: none needed.
	ChainDiffs [MaxDDChains]uint8
	// Width and Height are the render size of the frame's spatial layer,
	// when the structure has resolutions; 0 otherwise.
	Width, Height uint32

	// Structure is the structure the packet attaches, when HasStructure.
	// ParseDependencyDescriptor decodes into it, allocating it the first
	// time, and leaves it alone on packets without one; copies of a
	// descriptor share it.
	Structure *DDStructure
}

// ParseDependencyDescriptor parses b, one dependency descriptor extension
// value, into d. The frame is resolved with the structure the packet
// attaches, if any, and otherwise with latest, the stream's latest
// structure (nil when it has none yet). The caller decides whether an
// attached structure becomes its latest (latest = *d.Structure, a copy);
// when d.Structure is latest itself, a new one is allocated rather than
// overwriting latest.
//
// The error wraps ErrDDMalformed or ErrDDNoStructure; the mandatory fields
// are filled in whatever the error, once b holds them. Parse never reads
// outside b, and it allocates only the first Structure.
func ParseDependencyDescriptor(b []byte, latest *DDStructure, d *DependencyDescriptor) error {
	*d = DependencyDescriptor{Structure: d.Structure}
	if len(b) < ddMandatorySize {
		return errDDTruncated
	}
	d.readMandatory(b)
	r := bitReader{b: b, pos: 8 * ddMandatorySize}
	s := latest
	if len(b) > ddMandatorySize {
		var err error
		if s, err = d.readExtended(&r, latest); err != nil {
			return err
		}
	}
	if s == nil {
		return errDDMissing
	}
	if err := d.resolve(&r, s); err != nil {
		return err
	}
	if r.short {
		return errDDTruncated
	}
	return nil
}

// readMandatory decodes mandatory_descriptor_fields(), which fill the
// first three bytes of b.
func (d *DependencyDescriptor) readMandatory(b []byte) {
	d.StartOfFrame = b[0]&0x80 != 0
	d.EndOfFrame = b[0]&0x40 != 0
	d.TemplateID = b[0] & 0x3f
	d.FrameNumber = uint16(b[1])<<8 | uint16(b[2])
}

// readExtended decodes extended_descriptor_fields() and returns the
// structure the frame is resolved with.
func (d *DependencyDescriptor) readExtended(r *bitReader, latest *DDStructure) (*DDStructure, error) {
	flags := r.read(5)
	d.HasStructure = flags&0x10 != 0
	d.HasActiveDecodeTargets = flags&0x08 != 0
	d.CustomDTIs = flags&0x04 != 0
	d.CustomFdiffs = flags&0x02 != 0
	d.CustomChains = flags&0x01 != 0
	s := latest
	if d.HasStructure {
		if d.Structure == nil || d.Structure == latest {
			d.Structure = new(DDStructure)
		}
		if err := d.Structure.read(r); err != nil {
			return nil, err
		}
		s = d.Structure
		d.ActiveDecodeTargets = s.AllDecodeTargets()
	}
	if d.HasActiveDecodeTargets {
		if s == nil {
			return nil, errDDMissing
		}
		if !s.inRange() {
			return nil, errDDBadStructure
		}
		d.ActiveDecodeTargets = r.read(int(s.NumDecodeTargets))
	}
	return s, nil
}

// resolve decodes frame_dependency_definition(): the frame's values from
// its template, or from the custom ones that follow.
func (d *DependencyDescriptor) resolve(r *bitReader, s *DDStructure) error {
	t, err := s.lookup(d.TemplateID)
	if err != nil {
		return err
	}
	d.Spatial, d.Temporal = t.Spatial, t.Temporal
	d.NumDecodeTargets, d.NumChains = s.NumDecodeTargets, s.NumChains
	d.DTIs = t.DTIs
	if d.CustomDTIs {
		d.DTIs = readDTIs(r, int(s.NumDecodeTargets))
	}
	if err := d.resolveFdiffs(r, t); err != nil {
		return err
	}
	if d.CustomChains {
		for c := range s.NumChains {
			d.ChainDiffs[c] = uint8(r.read(8))
		}
	} else {
		copy(d.ChainDiffs[:s.NumChains], t.ChainDiffs[:])
	}
	if s.HasResolutions {
		d.Width, d.Height = s.Resolutions[t.Spatial].Width, s.Resolutions[t.Spatial].Height
	}
	return nil
}

// resolveFdiffs takes the template's frame diffs, or decodes
// frame_fdiffs(): each diff in 4, 8 or 12 bits, as next_fdiff_size says.
func (d *DependencyDescriptor) resolveFdiffs(r *bitReader, t *DDTemplate) error {
	if !d.CustomFdiffs {
		d.NumFdiffs = t.NumFdiffs
		for i := range t.NumFdiffs {
			d.Fdiffs[i] = uint16(t.Fdiffs[i])
		}
		return nil
	}
	for size := r.read(2); size != 0; size = r.read(2) {
		if d.NumFdiffs == MaxDDFdiffs {
			return errDDFdiffs
		}
		d.Fdiffs[d.NumFdiffs] = uint16(r.read(4*int(size))) + 1
		d.NumFdiffs++
	}
	return nil
}
