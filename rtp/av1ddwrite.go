package rtp

// MarshalSize returns the length of the extension value MarshalTo writes
// for d against s, or 0 when d cannot be written against s.
//
// s is the structure in force for the packet: the one written when
// d.HasStructure (pass d.Structure to re-attach the one parsed), and the
// one whose counts size the active decode targets mask and the custom
// DTIs and chains. It may be nil when d has none of those. A descriptor
// without extended fields is written in 3 bytes; custom frame diffs take
// the fewest bits that hold them.
func (d *DependencyDescriptor) MarshalSize(s *DDStructure) int {
	var w bitWriter
	if !d.encode(&w, s) {
		return 0
	}
	return w.size()
}

// MarshalTo writes d against s (see MarshalSize) at the start of b,
// padded with zero bits to a whole byte, and returns its length; 0 when b
// is too short or d cannot be written against s. It never writes outside
// b.
func (d *DependencyDescriptor) MarshalTo(b []byte, s *DDStructure) int {
	n := d.MarshalSize(s)
	if n == 0 || len(b) < n {
		return 0
	}
	w := bitWriter{b: b[:n]}
	d.encode(&w, s)
	w.flush()
	return n
}

// extended reports whether d needs the extended fields.
func (d *DependencyDescriptor) extended() bool {
	return d.HasStructure || d.HasActiveDecodeTargets || d.CustomDTIs || d.CustomFdiffs || d.CustomChains
}

// needsStructure reports whether writing d needs a structure's counts.
func (d *DependencyDescriptor) needsStructure() bool {
	return d.HasStructure || d.HasActiveDecodeTargets || d.CustomDTIs || d.CustomChains
}

// encode writes d against s to w, and reports false when it cannot.
func (d *DependencyDescriptor) encode(w *bitWriter, s *DDStructure) bool {
	if !d.fits(s) {
		return false
	}
	w.write(ddBits(d.StartOfFrame, d.EndOfFrame)<<22|uint32(d.TemplateID)<<16|uint32(d.FrameNumber), 24)
	if !d.extended() {
		return true
	}
	w.write(ddBits(d.HasStructure, d.HasActiveDecodeTargets, d.CustomDTIs, d.CustomFdiffs, d.CustomChains), 5)
	if d.HasStructure && !s.write(w) {
		return false
	}
	if d.HasActiveDecodeTargets {
		w.write(d.ActiveDecodeTargets, int(s.NumDecodeTargets))
	}
	if d.CustomDTIs {
		for i := range int(s.NumDecodeTargets) {
			w.write(uint32(d.DTIs.At(i)), 2)
		}
	}
	if d.CustomFdiffs && !d.writeFdiffs(w) {
		return false
	}
	if d.CustomChains {
		for c := range s.NumChains {
			w.write(uint32(d.ChainDiffs[c]), 8)
		}
	}
	return true
}

// ddBits packs flags into a number, the first in the highest bit.
func ddBits(flags ...bool) uint32 {
	var v uint32
	for _, f := range flags {
		v <<= 1
		if f {
			v |= 1
		}
	}
	return v
}

// fits reports whether d's template id can be written, and names a
// template of s when s is given, and whether s is there when d needs it.
func (d *DependencyDescriptor) fits(s *DDStructure) bool {
	if d.TemplateID >= MaxDDTemplates {
		return false
	}
	if s == nil {
		return !d.needsStructure()
	}
	_, err := s.lookup(d.TemplateID)
	return err == nil
}

// writeFdiffs writes frame_fdiffs(), each diff in the fewest 4-bit units
// that hold it, and reports false for a diff outside 1..4096.
func (d *DependencyDescriptor) writeFdiffs(w *bitWriter) bool {
	if d.NumFdiffs > MaxDDFdiffs {
		return false
	}
	for _, fd := range d.Fdiffs[:d.NumFdiffs] {
		if fd == 0 || fd > 1<<12 {
			return false
		}
		size := 1
		for v := uint32(fd-1) >> 4; v != 0; v >>= 4 {
			size++
		}
		w.write(uint32(size), 2)
		w.write(uint32(fd-1), 4*size)
	}
	w.write(0, 2)
	return true
}

// write writes template_dependency_structure() to w, and reports false
// when s cannot be written as it is.
func (s *DDStructure) write(w *bitWriter) bool {
	if !s.valid() {
		return false
	}
	w.write(uint32(s.TemplateIDOffset), 6)
	w.write(uint32(s.NumDecodeTargets-1), 5)
	for i := range int(s.NumTemplates) {
		idc, _ := s.nextLayer(i)
		w.write(idc, 2)
	}
	for i := range s.NumTemplates {
		for dt := range int(s.NumDecodeTargets) {
			w.write(uint32(s.Templates[i].DTIs.At(dt)), 2)
		}
	}
	for i := range s.NumTemplates {
		t := &s.Templates[i]
		for _, fd := range t.Fdiffs[:t.NumFdiffs] {
			w.flag(true)
			w.write(uint32(fd-1), 4)
		}
		w.flag(false)
	}
	s.writeChains(w)
	w.flag(s.HasResolutions)
	if s.HasResolutions {
		for sp := range s.maxSpatial() + 1 {
			w.write(s.Resolutions[sp].Width-1, 16)
			w.write(s.Resolutions[sp].Height-1, 16)
		}
	}
	return true
}

// writeChains writes template_chains().
func (s *DDStructure) writeChains(w *bitWriter) {
	w.ns(uint32(s.NumChains), uint32(s.NumDecodeTargets)+1)
	if s.NumChains == 0 {
		return
	}
	for dt := range s.NumDecodeTargets {
		w.ns(uint32(s.ProtectedBy[dt]), uint32(s.NumChains))
	}
	for i := range s.NumTemplates {
		for c := range s.NumChains {
			w.write(uint32(s.Templates[i].ChainDiffs[c]), 4)
		}
	}
}

// nextLayer returns the next_layer_idc that leads from template i to the
// next one (3 after the last), and false when no code leads there.
func (s *DDStructure) nextLayer(i int) (uint32, bool) {
	if i == int(s.NumTemplates)-1 {
		return 3, true
	}
	a, b := &s.Templates[i], &s.Templates[i+1]
	switch {
	case b.Spatial == a.Spatial && b.Temporal == a.Temporal:
		return 0, true
	case b.Spatial == a.Spatial && b.Temporal == a.Temporal+1:
		return 1, true
	case b.Spatial == a.Spatial+1 && b.Temporal == 0:
		return 2, true
	}
	return 0, false
}

// valid reports whether every field of s fits its syntax element, so that
// what is written parses back to s.
func (s *DDStructure) valid() bool {
	if !s.inRange() || s.TemplateIDOffset >= MaxDDTemplates || s.Templates[0].Spatial != 0 || s.Templates[0].Temporal != 0 {
		return false
	}
	for i := range int(s.NumTemplates) {
		if !s.validTemplate(i) {
			return false
		}
	}
	for dt := range s.NumDecodeTargets {
		if s.NumChains > 0 && s.ProtectedBy[dt] >= s.NumChains {
			return false
		}
	}
	if s.HasResolutions {
		for _, r := range s.Resolutions[:s.maxSpatial()+1] {
			if r.Width == 0 || r.Width > 1<<16 || r.Height == 0 || r.Height > 1<<16 {
				return false
			}
		}
	}
	return true
}

// validTemplate reports whether template i can be written: its layers
// follow from the one before, and its diffs fit their fields.
func (s *DDStructure) validTemplate(i int) bool {
	t := &s.Templates[i]
	if _, ok := s.nextLayer(i); !ok || t.Spatial >= MaxDDSpatialLayers || t.Temporal >= MaxDDTemporalLayers {
		return false
	}
	if t.NumFdiffs > MaxDDFdiffs {
		return false
	}
	for _, fd := range t.Fdiffs[:t.NumFdiffs] {
		if fd == 0 || fd > 16 {
			return false
		}
	}
	for _, cd := range t.ChainDiffs[:s.NumChains] {
		if cd > 15 {
			return false
		}
	}
	return true
}
