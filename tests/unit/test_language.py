from newswatch.pipelines.nlp.language import detect_language, detect_paragraphs


def test_arabic_and_english_headlines():
    assert detect_language("الجيش يعلن السيطرة على بلدة حدودية بعد معارك عنيفة").code == "ar"
    assert detect_language("Troops pushed toward the border town after heavy fighting").code == "en"


def test_other_languages_get_their_code_or_und():
    guess = detect_language("Les soldats ont traversé la frontière pendant la nuit")
    assert guess.code == "fr"
    assert detect_language("12345 !!! ...").code == "und"
    assert detect_language("").code == "und"


def test_paragraph_languages_of_a_mixed_item():
    text = "Heavy shelling hit the northern suburbs overnight.\n\nقصفت المدفعية الأحياء الشمالية ليلا."
    paragraphs = detect_paragraphs(text)
    assert [p.code for p in paragraphs] == ["en", "ar"]
    assert text[paragraphs[1].start:paragraphs[1].end].startswith("قصفت")
