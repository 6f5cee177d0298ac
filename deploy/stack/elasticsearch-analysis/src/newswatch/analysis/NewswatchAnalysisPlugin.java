package newswatch.analysis;

import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.ar.ArabicNormalizationFilter;
import org.apache.lucene.analysis.ar.ArabicStemFilter;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The Arabic analyzer and the token filters that schemas/index/analysis.json names, for the
 * local test node only: Elasticsearch's integ-test distribution ships without the analysis-common
 * module, although Lucene's analysis classes are in its lib/. The names and settings are those of
 * analysis-common, so one set of index templates serves both engines. Real clusters already have
 * analysis-common and must not install this (the names would clash).
 */
public final class NewswatchAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            // usable in normalizers too (keyword fields), as in analysis-common
            "arabic_normalization", (index, env, name, settings) ->
                new LuceneFilterFactory.Normalizing(name, settings, ArabicNormalizationFilter::new),
            "decimal_digit", (index, env, name, settings) ->
                new LuceneFilterFactory.Normalizing(name, settings, DecimalDigitFilter::new),
            "arabic_stem", (index, env, name, settings) ->
                new LuceneFilterFactory(name, settings, ArabicStemFilter::new),
            "stemmer", (index, env, name, settings) -> new StemmerFilterFactory(name, settings));
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("arabic", ArabicAnalyzerProvider::new);
    }
}
