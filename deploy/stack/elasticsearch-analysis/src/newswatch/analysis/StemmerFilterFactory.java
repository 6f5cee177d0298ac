package newswatch.analysis;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.ar.ArabicStemFilter;
import org.apache.lucene.analysis.en.EnglishMinimalStemFilter;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.tartarus.snowball.ext.EnglishStemmer;
import org.tartarus.snowball.ext.LovinsStemmer;

/**
 * The "stemmer" filter type for the languages newswatch indexes (English and Arabic), with
 * analysis-common's `language` (or `name`) setting and its meaning of each value. Any other
 * language is refused with the list of those known, rather than silently not stemmed.
 */
final class StemmerFilterFactory extends AbstractTokenFilterFactory {
    private static final Map<String, UnaryOperator<TokenStream>> STEMMERS = stemmers();

    private final UnaryOperator<TokenStream> stemmer;

    StemmerFilterFactory(String name, Settings settings) {
        super(name, settings);
        // analysis-common's default is Porter's English stemmer
        String language = settings.get("language", settings.get("name", "porter"));
        stemmer = STEMMERS.get(language.toLowerCase(Locale.ROOT));
        if (stemmer == null) {
            throw new IllegalArgumentException("stemmer language [" + language + "] is not provided by the newswatch "
                + "analysis plugin of the local test node; it knows " + STEMMERS.keySet()
                + ". A cluster with the analysis-common module has them all.");
        }
    }

    @Override
    public TokenStream create(TokenStream input) {
        return stemmer.apply(input);
    }

    private static Map<String, UnaryOperator<TokenStream>> stemmers() {
        Map<String, UnaryOperator<TokenStream>> byLanguage = new TreeMap<>();
        byLanguage.put("arabic", ArabicStemFilter::new);
        byLanguage.put("english", PorterStemFilter::new);
        byLanguage.put("porter", PorterStemFilter::new);
        byLanguage.put("light_english", KStemFilter::new);
        byLanguage.put("kstem", KStemFilter::new);
        byLanguage.put("minimal_english", EnglishMinimalStemFilter::new);
        byLanguage.put("possessive_english", EnglishPossessiveFilter::new);
        byLanguage.put("porter2", input -> new SnowballFilter(input, new EnglishStemmer()));
        byLanguage.put("lovins", input -> new SnowballFilter(input, new LovinsStemmer()));
        return byLanguage;
    }
}
