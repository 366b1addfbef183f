//! Program tracking: PAT → PMT PIDs → elementary streams (ISO/IEC 13818-1 §2.4.4).

use std::collections::BTreeMap;

use crate::psi::{Pat, Pmt, PmtStream, PsiError, Section, SectionAssembler};
use crate::psi::{TABLE_ID_PAT, TABLE_ID_PMT};
use crate::ts::{Pid, TsPacket};

/// One program of the current PAT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// program_number (never 0: that entry names the network PID).
    pub number: u16,
    /// PID carrying this program's PMT.
    pub pmt_pid: Pid,
    /// The current PMT, once one arrived.
    pub pmt: Option<Pmt>,
}

impl Program {
    /// The elementary streams of the current PMT (none before it arrived).
    pub fn streams(&self) -> &[PmtStream] {
        self.pmt.as_ref().map_or(&[], |p| &p.streams)
    }

    /// The first stream of the PMT with `stream_type`.
    pub fn first_of_type(&self, stream_type: u8) -> Option<&PmtStream> {
        self.streams().iter().find(|s| s.stream_type == stream_type)
    }
}

/// What a table section did to the program map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableEvent {
    /// A valid, current PAT section arrived (every repetition is reported, so monitors
    /// can time its presence); `changed` when it differs from the PAT before it.
    Pat {
        /// Content or version differs from the previous PAT (always true for the first).
        changed: bool,
    },
    /// A valid, current PMT of a program of the PAT arrived.
    Pmt {
        /// The program it maps.
        program_number: u16,
        /// The PID it came on.
        pmt_pid: Pid,
        /// Content or version differs from the previous PMT of the program.
        changed: bool,
    },
    /// A section on PID 0 that is not a PAT (table_id other than 0x00).
    UnexpectedTable {
        /// The PID the section came on.
        pid: Pid,
        /// Its table_id.
        table_id: u8,
    },
    /// A PAT or PMT section that could not be read (bad CRC, malformed table).
    Error {
        /// The PID the section came on.
        pid: Pid,
        /// Why it was refused.
        error: PsiError,
    },
}

/// The program map of one transport stream, rebuilt from its PAT and PMT sections.
///
/// Feed it the packets of PID 0 and of every PMT PID ([`is_psi`](Self::is_psi)) with
/// [`push`](Self::push). Invariants: only sections with current_next_indicator set are
/// applied (§2.4.4.5); a PAT or PMT that differs from the current one (a new
/// version_number, or new content under the old one) replaces it whole; programs that
/// leave the PAT lose their PMT, programs that stay on the same PMT PID keep it; a PMT
/// section is applied to the program its program_number names, if the PAT lists that
/// program on that PID (programs may share a PMT PID). A PAT of several sections
/// (§2.4.4.3: more than 253 programs) is applied once every section of one version is in;
/// a PMT is always one section (§2.4.4.8).
#[derive(Clone, Debug, Default)]
pub struct ProgramTracker {
    pat: Option<Pat>,
    pat_assembler: SectionAssembler,
    /// Sections of a multi-section PAT being collected: version, last_section_number and
    /// the sections in by section_number.
    pat_parts: Option<(u8, u8, BTreeMap<u8, Pat>)>,
    programs: BTreeMap<u16, Program>,
    pmt_assemblers: BTreeMap<Pid, SectionAssembler>,
}

impl ProgramTracker {
    /// A tracker that has seen no table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current PAT.
    pub fn pat(&self) -> Option<&Pat> {
        self.pat.as_ref()
    }

    /// The programs of the current PAT, by program_number.
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.programs.values()
    }

    /// One program of the current PAT.
    pub fn program(&self, number: u16) -> Option<&Program> {
        self.programs.get(&number)
    }

    /// The first program in PAT order (the one a single-program receiver plays).
    pub fn first_program(&self) -> Option<&Program> {
        let pat = self.pat.as_ref()?;
        pat.programs
            .iter()
            .find(|(number, _)| *number != 0)
            .and_then(|(number, _)| self.programs.get(number))
    }

    /// The stream_type of `pid` in the first PMT that lists it.
    pub fn stream_type(&self, pid: Pid) -> Option<u8> {
        self.programs
            .values()
            .flat_map(|p| p.streams())
            .find(|s| s.pid == pid)
            .map(|s| s.stream_type)
    }

    /// Whether `pid` carries a PMT of the current PAT.
    pub fn is_pmt_pid(&self, pid: Pid) -> bool {
        self.pmt_assemblers.contains_key(&pid)
    }

    /// Whether packets of `pid` belong to the tracker: PID 0 or a PMT PID.
    pub fn is_psi(&self, pid: Pid) -> bool {
        pid == Pid::PAT || self.is_pmt_pid(pid)
    }

    /// Drops the partly assembled section of `pid` (after a continuity error).
    pub fn reset_pid(&mut self, pid: Pid) {
        if pid == Pid::PAT {
            self.pat_assembler.reset();
        } else if let Some(assembler) = self.pmt_assemblers.get_mut(&pid) {
            assembler.reset();
        }
    }

    /// Drops every partly assembled section (after sync was lost); tables stay.
    pub fn reset_assembly(&mut self) {
        self.pat_assembler.reset();
        for assembler in self.pmt_assemblers.values_mut() {
            assembler.reset();
        }
    }

    /// Reads one packet of PID 0 or of a PMT PID (others are ignored) and appends what
    /// its sections did to `events`.
    pub fn push(&mut self, packet: &TsPacket<'_>, events: &mut Vec<TableEvent>) {
        let pid = packet.header.pid;
        if pid == Pid::PAT {
            self.pat_assembler.push_packet(packet);
            while let Some(bytes) = self.pat_assembler.pop() {
                self.pat_section(&bytes, events);
            }
        } else if let Some(assembler) = self.pmt_assemblers.get_mut(&pid) {
            assembler.push_packet(packet);
            let sections: Vec<Vec<u8>> = std::iter::from_fn(|| assembler.pop()).collect();
            for bytes in sections {
                self.pmt_section(pid, &bytes, events);
            }
        }
    }

    fn pat_section(&mut self, bytes: &[u8], events: &mut Vec<TableEvent>) {
        match bytes.first() {
            Some(&TABLE_ID_PAT) => {}
            Some(&table_id) => {
                events.push(TableEvent::UnexpectedTable {
                    pid: Pid::PAT,
                    table_id,
                });
                return;
            }
            None => return,
        }
        let parsed = match Section::parse(bytes) {
            Ok(section) if !section.current_next => return,
            Ok(section) => Pat::parse(&section)
                .map(|pat| (pat, section.section_number, section.last_section_number)),
            Err(error) => Err(error),
        };
        let pat = match parsed {
            Ok((pat, 0, 0)) => pat,
            Ok((pat, number, last)) => match self.pat_part(pat, number, last) {
                Some(pat) => pat,
                None => return,
            },
            Err(error) => {
                events.push(TableEvent::Error {
                    pid: Pid::PAT,
                    error,
                });
                return;
            }
        };
        let changed = self.pat.as_ref() != Some(&pat);
        if changed {
            let mut programs = BTreeMap::new();
            for &(number, pmt_pid) in pat.programs.iter().filter(|(n, _)| *n != 0) {
                let kept = self
                    .programs
                    .remove(&number)
                    .filter(|p| p.pmt_pid == pmt_pid);
                let program = kept.unwrap_or(Program {
                    number,
                    pmt_pid,
                    pmt: None,
                });
                programs.insert(number, program);
            }
            self.programs = programs;
            let mut assemblers = BTreeMap::new();
            for program in self.programs.values() {
                let assembler = self.pmt_assemblers.remove(&program.pmt_pid);
                assemblers
                    .entry(program.pmt_pid)
                    .or_insert_with(|| assembler.unwrap_or_default());
            }
            self.pmt_assemblers = assemblers;
            self.pat = Some(pat);
        }
        events.push(TableEvent::Pat { changed });
    }

    /// Collects one section of a multi-section PAT; the whole table once all are in.
    fn pat_part(&mut self, pat: Pat, number: u8, last: u8) -> Option<Pat> {
        if number > last {
            return None;
        }
        let key = (pat.version, last);
        let parts = match &mut self.pat_parts {
            Some((version, l, parts)) if (*version, *l) == key => parts,
            other => &mut other.insert((key.0, key.1, BTreeMap::new())).2,
        };
        parts.insert(number, pat);
        if parts.len() <= usize::from(last) {
            return None;
        }
        let (_, _, parts) = self.pat_parts.take()?;
        let mut whole: Option<Pat> = None;
        for part in parts.into_values() {
            match whole.as_mut() {
                Some(w) => w.programs.extend(part.programs),
                None => whole = Some(part),
            }
        }
        whole
    }

    fn pmt_section(&mut self, pid: Pid, bytes: &[u8], events: &mut Vec<TableEvent>) {
        if bytes.first() != Some(&TABLE_ID_PMT) {
            // Other tables may share a PMT PID (§2.4.4.8 allows private sections).
            return;
        }
        let pmt = match Section::parse(bytes) {
            Ok(section) if !section.current_next => return,
            Ok(section) => Pmt::parse(&section),
            Err(error) => Err(error),
        };
        let pmt = match pmt {
            Ok(pmt) => pmt,
            Err(error) => {
                events.push(TableEvent::Error { pid, error });
                return;
            }
        };
        let program_number = pmt.program_number;
        let Some(program) = self
            .programs
            .get_mut(&program_number)
            .filter(|p| p.pmt_pid == pid)
        else {
            return;
        };
        let changed = program.pmt.as_ref() != Some(&pmt);
        if changed {
            program.pmt = Some(pmt);
        }
        events.push(TableEvent::Pmt {
            program_number,
            pmt_pid: pid,
            changed,
        });
    }
}
