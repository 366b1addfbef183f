//! From a stored channel's settings (their typed view, [`super::doc`]) to what the channel
//! engine runs: the [`live_config::TranscodeConfig`], the input attachments to watch and the
//! output groups ([`super::groups`]). Pure: no I/O, tested inline.
//!
//! Anything the engine cannot honour is an error naming the setting, so the channel
//! does not pretend to run it.

use live_config::Selection;
use live_config::TranscodeConfig;
use serde_json::Value;

pub use super::failover::Attachment;
use super::failover::Failover;

/// What the engine of one channel runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub transcode: TranscodeConfig,
    /// The output groups: what each output muxes and where it goes.
    pub groups: Vec<GroupPlan>,
    /// Per audio rendition: the ISO 639 language and audio_type to signal.
    pub audio_language: Vec<Option<([u8; 3], u8)>>,
    /// The first input attachment.
    pub primary: Attachment,
    /// The attachment named by `automaticInputFailoverSettings.secondaryInputId`.
    pub secondary: Option<Attachment>,
    /// Failover conditions and input loss behaviour.
    pub failover: Failover,
}

impl Plan {
    /// The MediaPackage channels the output groups deliver to.
    pub fn package_channels(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().filter_map(|g| match &g.delivery {
            Delivery::MediaPackage { channel } => Some(channel.as_str()),
            _ => None,
        })
    }
}

use super::codec::audio_selection;
use super::doc::{int, ChannelDoc};
use super::failover::selector_pid;
use super::groups::{outputs, Delivery, GroupPlan};
use super::Problem;

/// The engine plan of a channel's settings, or why the engine cannot run it.
pub fn plan(settings: &serde_json::Map<String, Value>) -> Result<Plan, Problem> {
    plan_doc(&ChannelDoc::from_settings(settings)?)
}

/// [`plan`] of the typed view of a channel's settings.
pub fn plan_doc(doc: &ChannelDoc) -> Result<Plan, Problem> {
    let Some(first) = doc.input_attachments.first() else {
        return Err(Problem::new("inputAttachments", "the channel has no input"));
    };
    let primary = Attachment::of(first)
        .ok_or_else(|| Problem::new("inputAttachments[0].inputId", "is missing"))?;
    let (secondary, failover) = super::failover::plan(doc, first)?;

    let outputs = outputs(doc)?;
    let program_id = first
        .input_settings
        .as_ref()
        .and_then(|s| s.video_selector.as_ref())
        .and_then(|v| v.selector_settings.as_ref())
        .and_then(|s| s.video_selector_program_id.as_ref());
    let program = match program_id {
        None => None,
        Some(p) => int(
            p.program_id,
            "inputAttachments[0].inputSettings.videoSelector.selectorSettings.videoSelectorProgramId",
            "VideoSelectorProgramId",
            "programId",
            0..=i64::from(u16::MAX),
        )?
        .and_then(|p| u16::try_from(p).ok()),
    };
    let selector = outputs.audio_selector.as_deref().and_then(|name| {
        first
            .audio_selectors()
            .iter()
            .enumerate()
            .find(|(_, s)| s.name.as_deref() == Some(name))
    });
    let (audio_pid, audio_language) = match selector {
        Some((i, s)) => {
            let path = format!("inputAttachments[0].inputSettings.audioSelectors[{i}]");
            (selector_pid(s, &path)?, audio_selection(s, &path)?)
        }
        None => (None, None),
    };
    Ok(Plan {
        transcode: TranscodeConfig {
            selection: Selection {
                program,
                audio_pid,
                audio_language,
            },
            video: outputs.video,
            audio: outputs.audio,
        },
        groups: outputs.groups,
        audio_language: outputs.audio_language,
        primary,
        secondary,
        failover,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::medialive::codec::video_settings;
    use live_config::{AudioSettings, Profile, RateControl};
    use media::ts::Pid;
    use serde_json::json;
    use std::time::Duration;

    fn channel() -> serde_json::Map<String, Value> {
        json!({
            "inputAttachments": [
                {"inputAttachmentName": "primary", "inputId": "111",
                 "automaticInputFailoverSettings": {"secondaryInputId": "222",
                    "inputPreference": "PRIMARY_INPUT_PREFERRED",
                    "errorClearTimeMsec": 3000,
                    "failoverConditions": [{"failoverConditionSettings":
                        {"inputLossSettings": {"inputLossThresholdMsec": 500}}}]},
                 "inputSettings": {
                    "audioSelectors": [{"name": "default",
                        "selectorSettings": {"audioPidSelection": {"pid": 256}}}],
                    "videoSelector": {"selectorSettings": {"videoSelectorProgramId": {"programId": 1}}}}},
                {"inputAttachmentName": "backup", "inputId": "222"}
            ],
            "destinations": [{"id": "mp", "mediaPackageSettings": [{"channelId": "pkg"}]}],
            "encoderSettings": {
                "audioDescriptions": [{"name": "a1", "audioSelectorName": "default",
                    "codecSettings": {"aacSettings": {"bitrate": 128000.0, "sampleRate": 48000.0,
                        "codingMode": "CODING_MODE_2_0"}}}],
                "videoDescriptions": [{"name": "v", "width": 640, "height": 360,
                    "codecSettings": {"h264Settings": {"bitrate": 800000, "rateControlMode": "CBR",
                        "gopSize": 2.0, "gopSizeUnits": "SECONDS", "gopNumBFrames": 1,
                        "numRefFrames": 2, "profile": "HIGH", "level": "H264_LEVEL_3_1",
                        "framerateNumerator": 25, "framerateDenominator": 1,
                        "bufSize": 1600000, "maxBitrate": 800000}}}],
                "outputGroups": [{
                    "outputGroupSettings": {"mediaPackageGroupSettings": {"destination": {"destinationRefId": "mp"}}},
                    "outputs": [{"outputName": "360p", "videoDescriptionName": "v",
                        "outputSettings": {"mediaPackageOutputSettings": {}},
                        "audioDescriptionNames": ["a1"]}]
                }]
            }
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn maps_h264_and_aac_settings() {
        let p = plan(&channel()).unwrap();
        assert_eq!(p.package_channels().collect::<Vec<_>>(), ["pkg"]);
        assert_eq!(p.primary.name, "primary");
        assert_eq!(p.secondary.as_ref().unwrap().name, "backup");
        assert_eq!(p.failover.loss_threshold, Duration::from_millis(500));
        assert_eq!(p.failover.error_clear, Duration::from_millis(3000));
        assert!(p.failover.prefer_primary);
        assert_eq!(p.transcode.selection.program, Some(1));
        assert_eq!(p.transcode.selection.audio_pid, Some(Pid(256)));
        let v = &p.transcode.video[0];
        assert_eq!((v.width, v.height, v.framerate), (640, 360, (25, 1)));
        assert_eq!(
            (v.bitrate, v.max_bitrate, v.buf_size),
            (800_000, Some(800_000), Some(1_600_000))
        );
        assert_eq!(v.rate_control, RateControl::Cbr);
        assert_eq!(v.gop_size, 50);
        assert_eq!((v.b_frames, v.ref_frames), (1, Some(2)));
        assert_eq!(v.profile, Profile::High);
        assert_eq!(v.level.as_deref(), Some("3.1"));
        assert_eq!(
            p.transcode.audio,
            vec![AudioSettings {
                bitrate: 128_000,
                sample_rate: 48_000,
                channels: 2
            }]
        );
    }

    #[test]
    fn settings_the_engine_lacks_are_refused_by_name() {
        let mut c = channel();
        c["encoderSettings"]["videoDescriptions"][0]["codecSettings"]["h264Settings"]
            ["rateControlMode"] = json!("MULTIPLEX");
        let e = plan(&c).unwrap_err();
        assert_eq!(
            e.path,
            "encoderSettings.videoDescriptions[0].codecSettings.h264Settings.rateControlMode"
        );
        assert!(e.why.starts_with("MULTIPLEX"), "{e}");
        let mut c = channel();
        c["encoderSettings"]["audioDescriptions"][0]["codecSettings"]["aacSettings"]
            ["codingMode"] = json!("CODING_MODE_5_1");
        assert!(plan(&c).unwrap_err().path.ends_with("codingMode"));
        let mut c = channel();
        c["encoderSettings"]["outputGroups"][0]["outputGroupSettings"] =
            json!({"archiveGroupSettings": {}});
        assert!(plan(&c).unwrap_err().why.contains("udpGroupSettings"));
    }

    #[test]
    fn levels_and_frame_gops() {
        let d = json!({"width": 320, "height": 180, "codecSettings": {"h264Settings": {
            "level": "H264_LEVEL_4", "gopSize": 60.0, "profile": "BASELINE", "gopNumBFrames": 3}}});
        let v = video_settings(&serde_json::from_value(d).unwrap(), "v").unwrap();
        assert_eq!(v.level.as_deref(), Some("4.0"));
        assert_eq!((v.gop_size, v.b_frames, v.framerate), (60, 0, (30, 1)));
    }
}
