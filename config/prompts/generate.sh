#!/usr/bin/env bash
# Generates the Dutch prompt set in nl/ with espeak-ng (voice "nl") and sox, as 8 kHz mono
# 16-bit PCM WAV: what a G.711 call carries, so playout never resamples.
# Re-runnable and idempotent: every file is rebuilt from its text, without dither, so the same
# tools give the same bytes. Requires espeak-ng and sox (Debian/Ubuntu: apt-get install espeak-ng sox).
set -euo pipefail

cd "$(dirname "$0")"
for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "generate.sh: $tool is required" >&2; exit 1; }
done

OUT=nl
WORDS_PER_MINUTE=145
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The output format of every prompt; -D: no dither, so output is reproducible.
to_prompt_format() { sox -D "$1" -r 8000 -c 1 -b 16 -e signed-integer "$2" "${@:3}"; }

# speak NAME "TEXT": nl/NAME.wav, normalised to -3 dBFS peak.
speak() {
    local name=$1 text=$2
    espeak-ng -v nl -s "$WORDS_PER_MINUTE" -w "$WORK/raw.wav" "$text"
    to_prompt_format "$WORK/raw.wav" "$WORK/$name.wav" norm -3
    mv "$WORK/$name.wav" "$OUT/$name.wav"
}

speak welcome "Welkom bij het klantcontactcentrum van de gemeente."

# Queue position: position_prefix + num_N + position_suffix.
speak position_prefix "U bent nummer"
speak position_suffix "in de wachtrij."

# Numbers as parts: 0-20 whole; 21-99 as units + num_and + tens (drie + en + twintig).
NUMBERS=(nul één twee drie vier vijf zes zeven acht negen tien elf twaalf dertien veertien
         vijftien zestien zeventien achttien negentien twintig)
for n in "${!NUMBERS[@]}"; do
    speak "num_$n" "${NUMBERS[$n]}"
done
TENS=([30]=dertig [40]=veertig [50]=vijftig [60]=zestig [70]=zeventig [80]=tachtig [90]=negentig)
for n in "${!TENS[@]}"; do
    speak "num_$n" "${TENS[$n]}"
done
speak num_and "en"

# Expected wait: wait_prefix + (wait_less_than_minute | wait_about num_N wait_minutes |
# wait_more_than num_N wait_minutes).
speak wait_prefix "De verwachte wachttijd is"
speak wait_less_than_minute "minder dan een minuut."
speak wait_about "ongeveer"
speak wait_more_than "meer dan"
speak wait_minutes "minuten."

speak callback_offer "Toets 1 om teruggebeld te worden."

# A transfer nobody answered: the caller is back in the queue, ahead of the others.
speak transfer_failed "Het is niet gelukt u door te verbinden. U bent weer in de wachtrij, als eerste aan de beurt."

# Reference number: reference_prefix + num_0..num_9, one per digit.
speak reference_prefix "Uw referentienummer is"

speak closed "Wij zijn op dit moment gesloten. Onze openingstijden zijn maandag tot en met vrijdag van acht tot zes uur."

# Tenant prompts named in the shipped dial plans (menu, closed, overflow).
speak almere-welkom "Voor burgerzaken, toets 1. Voor belastingen, toets 2. Voor sociale zaken, toets 3. Voor stadsbeheer, toets 4. Voor alle andere vragen, toets 0."
speak almere-gesloten "Het klantcontactcentrum van de gemeente Almere is nu gesloten. U kunt ons bellen op werkdagen van acht tot zes uur."
speak alle-lijnen-bezet "Alle lijnen zijn op dit moment bezet. Probeert u het later nog eens."
speak sociale-zaken-vol "Het is op dit moment erg druk bij sociale zaken. Probeert u het later nog eens."
speak queue-full "De wachtrij is vol. Probeert u het later nog eens."

# Hold music: four soft chords (C, A minor, F, G) of 5 s each from sine tones, faded in
# and out so chord changes and the loop point do not click, at low volume (-20 dBFS peak). Synthesised here: no recorded music.
CHORDS=("261.63 329.63 392.00" "220.00 261.63 329.63" "174.61 220.00 261.63" "196.00 246.94 293.66")
parts=()
for i in "${!CHORDS[@]}"; do
    read -r low mid high <<<"${CHORDS[$i]}"
    sox -D -n -r 8000 -c 3 -b 16 "$WORK/chord_$i.wav" \
        synth 5 sine "$low" sine "$mid" sine "$high" remix - fade q 0.6 5 0.6 tremolo 0.4 15 gain -n -20
    parts+=("$WORK/chord_$i.wav")
done
sox -D "${parts[@]}" -r 8000 -c 1 -b 16 -e signed-integer "$WORK/hold_music.wav"
mv "$WORK/hold_music.wav" "$OUT/hold_music.wav"

echo "generate.sh: $(ls "$OUT" | wc -l) prompts in $OUT/, $(du -sh "$OUT" | cut -f1)"
