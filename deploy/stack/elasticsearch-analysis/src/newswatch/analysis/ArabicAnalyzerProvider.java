package newswatch.analysis;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.ar.ArabicAnalyzer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;

/**
 * The analyzer named "arabic": Lucene's ArabicAnalyzer, with analysis-common's settings
 * `stopwords` / `stopwords_path` (default: Lucene's Arabic list) and `stem_exclusion`.
 */
final class ArabicAnalyzerProvider extends AbstractIndexAnalyzerProvider<ArabicAnalyzer> {
    private final ArabicAnalyzer analyzer;

    ArabicAnalyzerProvider(IndexSettings index, Environment env, String name, Settings settings) {
        super(name, settings);
        CharArraySet stopwords = Analysis.parseStopWords(env, settings, ArabicAnalyzer.getDefaultStopSet());
        CharArraySet keepUnstemmed = Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET);
        analyzer = new ArabicAnalyzer(stopwords, keepUnstemmed);
    }

    @Override
    public ArabicAnalyzer get() {
        return analyzer;
    }
}
